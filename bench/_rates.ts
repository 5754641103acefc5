/**
 * Messages per second of each bench iteration, by name, printed as medians when the bench ends.
 *
 * @module
 */

/** Records rates and prints their medians on unload, then runs `cleanup`. */
export function messageRates(
  count: number,
  cleanup: () => unknown = () => {},
): (name: string, ms: number) => void {
  const rates = new Map<string, number[]>();
  globalThis.addEventListener("unload", () => {
    for (const [name, list] of rates) {
      const sorted = list.sort((a, b) => a - b);
      console.log(
        `${name}: median ${
          Math.round(sorted[Math.floor(sorted.length / 2)]).toLocaleString("en")
        } messages/s`,
      );
    }
    cleanup();
  });
  return (name, ms) => rates.set(name, [...(rates.get(name) ?? []), count / (ms / 1000)]);
}
