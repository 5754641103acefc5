/**
 * The chat page in a real browser (Debian's Chromium, headless, driven by playwright-core): two
 * users in two pages exchange a Chinese and an English message in a group chat, each sees the
 * other's live, and both find it through the page's search.
 */
import assert from "node:assert/strict";
import { chromium, type Page } from "playwright-core";
import { startChat } from "./main.ts";

const CHROMIUM = "/usr/bin/chromium";
const available = await Deno.stat(CHROMIUM).then(() => true, () => false);

async function logIn(page: Page, url: string, user: string): Promise<void> {
  await page.goto(url);
  await page.fill("#user", user);
  await page.click("#login button");
  await page.waitForSelector("#chat", { state: "visible" });
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.click("#send button");
}

const messageTexts = (page: Page) =>
  page.$$eval(".message:not(.pending) span", (spans) => spans.map((span) => span.textContent));

Deno.test({
  name:
    "[chromium] chat page: two users exchange Chinese and English live in a group chat and find it by search",
  ignore: !available,
  async fn() {
    await using chat = await startChat("all", { port: 0, env: {} });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const [ann, bob] = [await browser.newPage(), await browser.newPage()];
      await logIn(ann, chat.pageUrl!, "ann");
      await logIn(bob, chat.pageUrl!, "bob");
      // ann starts a group with bob; bob's list shows it once he refreshes it.
      await ann.fill("#addTarget", "friends/bob");
      await ann.click("#add button");
      await ann.click(".conversation >> text=friends");
      await bob.reload();
      await logIn(bob, chat.pageUrl!, "bob");
      await bob.click(".conversation >> text=friends");
      // Connected: the page marks its body once the WebSocket is open.
      await ann.waitForSelector("body[data-connected=yes]");
      await bob.waitForSelector("body[data-connected=yes]");

      await say(ann, "周末去爬山吗？");
      await say(bob, "Sure, see you Saturday!");
      for (const page of [ann, bob]) {
        await page.waitForFunction(
          `document.querySelectorAll(".message:not(.pending)").length === 2`,
        );
        assert.deepEqual(
          (await messageTexts(page)).sort(),
          ["Sure, see you Saturday!", "周末去爬山吗？"].sort(),
        );
      }

      for (
        const [page, query, expected] of [
          [bob, "爬山", "ann: 周末去爬山吗？"],
          [ann, "saturday", "bob: Sure, see you Saturday!"],
        ] as const
      ) {
        await page.fill("#query", query);
        await page.click("#searchForm button");
        await page.waitForSelector(".hit");
        assert.deepEqual(await page.$$eval(".hit", (hits) => hits.map((hit) => hit.textContent)), [
          `friends · ${expected}`,
        ]);
      }
    } finally {
      await browser.close();
    }
  },
});
