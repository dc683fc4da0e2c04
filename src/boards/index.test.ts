import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { thrown } from "../errors.test-helper.js";
import { BOARDS_DIR_DEFAULT, getBoard, guessBoardByUsb, loadBoards } from "./index.js";

function tempBoards(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "boards-"));
  for (const [name, data] of Object.entries(files))
    writeFileSync(join(dir, name), typeof data === "string" ? data : JSON.stringify(data));
  return dir;
}

function devkitc(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(BOARDS_DIR_DEFAULT, "esp32-devkitc.json"), "utf8"));
}

describe("loadBoards", () => {
  it("loads the six shipped boards", () => {
    expect(loadBoards().map((b) => b.id)).toEqual([
      "esp32-c3-devkitm-1",
      "esp32-devkitc",
      "esp32-s3-devkitc-1",
      "idf-linux",
      "m5stack-core2-aws",
      "twin",
    ]);
  });

  it("names the file and the field of an invalid board", () => {
    const bad = devkitc();
    (bad.baud as { rates: unknown[] }).rates = [115200, "fast"];
    const dir = tempBoards({ "esp32-devkitc.json": bad });
    const e = thrown(() => loadBoards(dir));
    expect(e.code).toBe("CONFIG");
    expect(e.where).toBe(join(dir, "esp32-devkitc.json"));
    expect(e.message).toContain("baud.rates[1]");
  });

  it("rejects a DS board whose default key is not RSA, naming keyTypes.default", () => {
    const bad = JSON.parse(readFileSync(join(BOARDS_DIR_DEFAULT, "esp32-s3-devkitc-1.json"), "utf8"));
    bad.keyTypes.default = "ec-p256";
    const e = thrown(() => loadBoards(tempBoards({ "esp32-s3-devkitc-1.json": bad })));
    expect(e.message).toMatch(/keyTypes\.default: the DS peripheral holds RSA keys only/);
  });

  it("rejects a misspelt field instead of ignoring it", () => {
    const bad = { ...devkitc(), keystore: "nvs" };
    const e = thrown(() => loadBoards(tempBoards({ "esp32-devkitc.json": bad })));
    expect(e.code).toBe("CONFIG");
    expect(e.message).toContain("keystore");
  });

  it("rejects an atecc608 board without secure element pins", () => {
    const bad = JSON.parse(readFileSync(join(BOARDS_DIR_DEFAULT, "m5stack-core2-aws.json"), "utf8"));
    delete bad.secureElement;
    const e = thrown(() => loadBoards(tempBoards({ "m5stack-core2-aws.json": bad })));
    expect(e.message).toContain("secureElement:");
  });

  it("keeps ESP-IDF's linux target to what it has: a pty console, plain NVS, no Wi-Fi", () => {
    const linux = () => JSON.parse(readFileSync(join(BOARDS_DIR_DEFAULT, "idf-linux.json"), "utf8"));
    const ds = { ...linux(), keyStore: { default: "nvs", supported: ["nvs", "nvs-encrypted"] } };
    expect(thrown(() => loadBoards(tempBoards({ "idf-linux.json": ds }))).message).toMatch(
      /keyStore\.supported: ESP-IDF's linux target has plain NVS only/,
    );
    const wifi = { ...linux(), wifi: true };
    expect(thrown(() => loadBoards(tempBoards({ "idf-linux.json": wifi }))).message).toMatch(
      /wifi: .*no Wi-Fi/,
    );
    const uart = { ...linux(), console: { kind: "uart", uartNum: 0 } };
    expect(thrown(() => loadBoards(tempBoards({ "idf-linux.json": uart }))).message).toMatch(
      /console\.kind: pty is the console of ESP-IDF's linux target/,
    );
    const ptyChip = { ...devkitc(), console: { kind: "pty", uartNum: 0 } };
    expect(thrown(() => loadBoards(tempBoards({ "esp32-devkitc.json": ptyChip }))).message).toMatch(
      /console\.kind: pty is the console/,
    );
  });

  it("rejects an id that differs from the file name", () => {
    const e = thrown(() => loadBoards(tempBoards({ "other.json": devkitc() })));
    expect(e.message).toContain("differs from the file name");
  });

  it("reports broken JSON with the file name", () => {
    const dir = tempBoards({ "x.json": "{ not json" });
    const e = thrown(() => loadBoards(dir));
    expect(e.code).toBe("CONFIG");
    expect(e.where).toBe(join(dir, "x.json"));
  });
});

describe("getBoard", () => {
  it("returns the board", () => {
    const b = getBoard("m5stack-core2-aws");
    expect(b.secureElement?.address).toBe(0x35);
    expect(b.keyStore.default).toBe("atecc608");
  });

  it("lists the known boards for an unknown id", () => {
    const e = thrown(() => getBoard("esp8266"));
    expect(e.code).toBe("UNKNOWN_BOARD");
    for (const id of [
      "esp32-devkitc",
      "esp32-s3-devkitc-1",
      "esp32-c3-devkitm-1",
      "m5stack-core2-aws",
      "twin",
    ])
      expect(e.message).toContain(id);
  });
});

describe("guessBoardByUsb", () => {
  it("finds the CH9102 board from numbers or strings", () => {
    expect(guessBoardByUsb(0x1a86, 0x55d4).map((b) => b.id)).toEqual(["m5stack-core2-aws"]);
    expect(guessBoardByUsb("0x1A86", "55D4").map((b) => b.id)).toEqual(["m5stack-core2-aws"]);
  });

  it("returns every CP2102 board, the single-bridge one first", () => {
    const ids = guessBoardByUsb("10c4", "ea60").map((b) => b.id);
    expect(ids[0]).toBe("esp32-devkitc");
    expect(new Set(ids)).toEqual(
      new Set(["esp32-devkitc", "esp32-c3-devkitm-1", "esp32-s3-devkitc-1", "m5stack-core2-aws"]),
    );
  });

  it("returns the USB-Serial-JTAG boards for 303a:1001", () => {
    expect(guessBoardByUsb("303a", "1001").map((b) => b.id)).toEqual([
      "esp32-c3-devkitm-1",
      "esp32-s3-devkitc-1",
    ]);
  });

  it("returns nothing for an unknown bridge", () => {
    expect(guessBoardByUsb("0403", "6001")).toEqual([]);
  });
});
