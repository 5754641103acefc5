/**
 * What the kit hands to a function a user gives it (retry's attempt, a breaker's or once's
 * `fn`, an mq handler's message), so that every such function gets its signal in one shape.
 *
 * @module
 */

/** The one argument of a function the kit calls on the user's behalf; components extend it. */
export interface Call {
  /**
   * Aborts when the kit gives up on the call (the caller aborted, a timeout, a lost lock, a
   * close): pass it on to the work the function starts.
   */
  readonly signal: AbortSignal;
}
