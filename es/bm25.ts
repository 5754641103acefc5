/**
 * BM25 as Lucene 8+ and Elasticsearch compute it (k1 = 1.2, b = 0.75), split so that a query
 * computes each term's idf once. Every path of the memory driver scores through these, so
 * they all give the same figures to the last bit.
 *
 * @module
 */

/** BM25's term-frequency saturation. */
export const BM25_K1 = 1.2;
/** BM25's length normalization. */
export const BM25_B = 0.75;

/**
 * Lucene's idf.
 *
 * @param docs Documents with the field.
 * @param docsWithTerm Of them, documents with the term.
 * @returns The idf.
 */
export function idf(docs: number, docsWithTerm: number): number {
  return Math.log(1 + (docs - docsWithTerm + 0.5) / (docsWithTerm + 0.5));
}

/**
 * One term's score in one field of one document, given the term's idf.
 *
 * @param termIdf From {@linkcode idf}.
 * @param tf Occurrences of the term in the field.
 * @param length Terms in the field.
 * @param averageLength Average terms in the field.
 * @returns The score.
 */
export function termScore(
  termIdf: number,
  tf: number,
  length: number,
  averageLength: number,
): number {
  return termIdf * tf / (tf + BM25_K1 * (1 - BM25_B + BM25_B * length / averageLength));
}

/**
 * One term's BM25 score in one field of one document, as Lucene 8+ computes it (without the
 * constant `k1 + 1` factor older formulations carry, which changes no ranking).
 *
 * @param tf Occurrences of the term in the field.
 * @param length Terms in the field.
 * @param docs Documents with the field.
 * @param docsWithTerm Of them, documents with the term.
 * @param averageLength Average terms in the field over those documents.
 * @returns The score.
 */
export function bm25(
  tf: number,
  length: number,
  docs: number,
  docsWithTerm: number,
  averageLength: number,
): number {
  return termScore(idf(docs, docsWithTerm), tf, length, averageLength);
}
