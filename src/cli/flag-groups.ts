/**
 * Flags several commands share (the device, the cloud, the plan, flashing),
 * as the command table (table.ts) adds them to each.
 */
import { type Command, Option } from "commander";
import { KEY_STORE_NAME_LIST, KEY_TYPE_NAME_LIST } from "../protocol/constants.js";
import {
  collect,
  deviceTimeout,
  intervalMs,
  parseLocalPorts,
  positive,
  timeoutMs,
  wholeNumber,
} from "./flag-values.js";

export const untilOption = () =>
  new Option(
    "--until <what>",
    "end at the first publish (default), or at `committed`: after COMMIT, a restart and a STATUS showing the committed set (devices without a network)",
  ).choices(["published", "committed"]);

export const KEY_TYPES: string[] = KEY_TYPE_NAME_LIST;
export const KEY_STORES: string[] = KEY_STORE_NAME_LIST;

/** Key and CSR subject flags (provision, station, csr). */
export function keyOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--key-type <type>", "key type").choices(KEY_TYPES))
    .addOption(new Option("--key-store <store>", "key store").choices(KEY_STORES))
    .option("--subject <field=value>", "CSR subject field, repeatable (C, ST, L, O, OU, CN)", collect);
}

/**
 * What a provisioning writes and registers (provision, station). --ledger has no
 * commander default: it would always win over the config file's `ledger`.
 */
export function planOptions(cmd: Command): Command {
  return keyOptions(cmd)
    .option("-c, --config <file>", "config file", "provision.config.json")
    .option("--thing-name <template>", "thing name template, e.g. 'sensor-{{deviceId}}'")
    .option("--policy <name>", "policy to attach (created from the least-privilege template if missing)")
    .option("--policy-document <file>", "policy JSON to create instead of the built-in template")
    .option("--topic <template>", "topic template, e.g. '{{thingName}}/counter' or 'topic_001'")
    .addOption(
      new Option("--interval <ms>", "publish interval in ms (1000 to 3600000)").argParser(intervalMs),
    )
    .addOption(new Option("--wifi-ssid <ssid>", "Wi-Fi network").env("PROVISION_WIFI_SSID"))
    .option("--wifi-password-file <file>", "file holding the Wi-Fi password (or env PROVISION_WIFI_PASSWORD)")
    .addOption(new Option("--timeout <ms>", "how long to wait for the first publish").argParser(timeoutMs))
    .addOption(untilOption())
    .addOption(
      new Option("--switch-baud <rate>", "after HELLO, switch to this baud rate for the transfers").argParser(
        positive,
      ),
    )
    .option(
      "--ledger <file>",
      "append-only audit ledger (default: the config's ledger, else provision-ledger.jsonl)",
    )
    .addOption(ledgerWaitOption())
    .option(
      "--retire-unknown-certificates",
      "once the device publishes, also retire ACTIVE certificates of its thing that no run of this ledger made (another station's, another ledger's)",
    );
}

/** One process writes a ledger at a time; the others wait this long for it (src/ledger/lock.ts). */
export function ledgerWaitOption(): Option {
  return new Option(
    "--ledger-wait <s>",
    "seconds to wait for another process writing the same ledger (default 120; 0: refuse at once)",
  ).argParser(wholeNumber(0));
}

/** Flags shared by every command that talks to a device. */
export function deviceOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("-p, --port <path>", "serial port of the device").env("ESPPORT"))
    .addOption(
      new Option("-b, --baud <rate>", "baud rate to meet the device at").env("ESPBAUD").argParser(positive),
    )
    .option("--board <id>", "board definition (default: from HELLO / USB ids)")
    .option("--no-reset", "do not reset the chip when opening the port")
    .option("--verbose", "show the device log")
    .option("--trace", "show every decoded frame")
    .addOption(
      new Option(
        "--device-timeout <name=ms>",
        "wait longer for a slow device, repeatable: BOOT (reset to first answer) or a command (GENERATE_KEY, GET_CSR, COMMIT, ...) per attempt",
      ).argParser(deviceTimeout),
    );
}

/** Flashing as the first step of one pass (provision, station): `--flash DIR` and what goes with it. */
export function flashFlags(cmd: Command): Command {
  return cmd
    .option(
      "--flash <dir|file>",
      "flash this firmware first (an ESP-IDF build folder, or a merged image with --flash-offset)",
    )
    .option("--flash-offset <addr>", "where a merged image file goes, e.g. 0x0")
    .addOption(
      new Option(
        "--flash-baud <rate>",
        "line rate for flashing (default 921600, falls back to 115200)",
      ).argParser(positive),
    )
    .option("--no-stub", "flash with the ROM loader only (no flasher stub in RAM)")
    .option("--reflash", "write every region even when the board already holds it")
    .option(
      "--erase-credentials",
      "with --flash: also erase the NVS partition (the board's key and credentials)",
    )
    .addOption(
      new Option(
        "--before <how>",
        "how to enter the ROM loader (default: the board's reset circuit)",
      ).choices(["default-reset", "usb-reset", "no-reset"]),
    );
}

/** Flags shared by every command that talks to AWS IoT (or the local AWS IoT). */
export function cloudOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--region <region>", "AWS region").env("AWS_REGION"))
    .addOption(new Option("--profile <name>", "AWS profile from ~/.aws/config").env("AWS_PROFILE"))
    .addOption(
      new Option("--endpoint-url <url>", "AWS IoT control-plane endpoint override").env(
        "AWS_ENDPOINT_URL_IOT",
      ),
    )
    .option("--local", "use a local AWS IoT started for this run (no account needed)")
    .option("--local-state-dir <dir>", "state directory of the local AWS IoT", ".state/local-iot")
    .addOption(
      new Option("--local-ports <cp,mqtts,wss>", "ports of the local AWS IoT (0 = any free one)")
        .default({ controlPlane: 4566, mqtts: 8883, wss: 8443 }, "4566,8883,8443")
        .argParser(parseLocalPorts),
    );
}
