/**
 * The etcd reliability worker: each write is `coord.config.set` of a key of its own. Afterwards
 * every acknowledged key must be there.
 *
 * Usage: `deno run -A etcd_worker.ts <endpoints> <key prefix>`; see `_workload.ts` for the
 * protocol.
 */
import { readBack, runWorkload } from "./_workload.ts";
import * as coord from "../../coord/mod.ts";
import { etcdCoord } from "../../drivers/etcd.ts";

const [endpoints, prefix] = Deno.args;

await runWorkload(async () => {
  const provider = await coord.create(coord.defaultConfig("production"), {
    driver: etcdCoord({ endpoints }),
  });
  return {
    write: (seq) => provider.config.set(`${prefix}/${seq}`, seq),
    async verify(acknowledged, failed) {
      const stored = new Set(
        (await readBack(() => provider.config.list<number>(`${prefix}/`))).map(({ value }) =>
          value
        ),
      );
      return {
        lost: [...acknowledged].filter((seq) => !stored.has(seq)).length,
        duplicates: null, // a key holds one value
        ambiguous: [...failed].filter((seq) => stored.has(seq)).length,
      };
    },
    close: () => provider.close(),
  };
});
