/**
 * The command table: parses flags, dispatches to one async function per
 * command (src/commands/<name>.ts), and is the only place that turns an error
 * into an exit status. Commands throw; they never call process.exit.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { installInterruptHandler, interrupt } from "../commands/interrupt.js";
import { printFailure } from "../commands/json-output.js";
import { asProvisionError, ProvisionError } from "../errors.js";
import { PACKAGE_VERSION } from "../package-root.js";
import { DEVICE_TIMEOUT_NAMES, KEY_STORE_NAME_LIST, KEY_TYPE_NAME_LIST } from "../protocol/constants.js";
import { interruptSignalOf, throwIfInterrupted } from "../provision/interruption.js";
import { exitCodeFor, exitStatusOf } from "./exit-codes.js";
import { commandPathOf, jsonRequested, usageError } from "./usage-json.js";

// The SDK warns on every run under Node 20 that releases after January 2027
// need Node 22; the README says so once, the CLI need not repeat it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const program = new Command();
let jsonMode = false;
/** The command running, as `--json` output names it ("provision", "verify", "firmware render", ...). */
let commandName = "provision";

// Commander exits 1 on a bad flag, which the README reserves for internal errors; usage errors are 2.
// Under --json the error is one object on stdout (usage-json.ts), and commander's text and help stay out.
// Set before the subcommands are made: they copy it.
program.exitOverride((err) => {
  if (err.exitCode === 0) process.exit(0);
  if (jsonRequested()) fail(usageError(err, commandPathOf(program)));
  process.exit(exitCodeFor("USAGE"));
});
program.configureOutput({ writeErr: (text) => (jsonRequested() ? undefined : process.stderr.write(text)) });

function fail(e: unknown): never {
  const err = asProvisionError(e);
  // A usage error found before the command ran (an argument parser's) still honours --json.
  if (jsonMode || jsonRequested()) {
    printFailure(jsonMode ? commandName : commandPathOf(program), err);
  }
  process.stderr.write(`provision: ${err.describe()}\n`);
  if (err.code === "INTERNAL" && err.cause instanceof Error && err.cause.stack) {
    process.stderr.write(`${err.cause.stack}\n`);
  }
  process.exit(exitStatusOf(err.code, interruptSignalOf(err)));
}

function run<T extends object>(load: () => Promise<(opts: T) => Promise<unknown>>) {
  return async (opts: T & { json?: boolean }) => {
    jsonMode = Boolean(opts.json);
    try {
      // A signal while the tool was loading: stop before the command touches anything.
      throwIfInterrupted(interrupt.signal);
      const command = await load();
      throwIfInterrupted(interrupt.signal);
      await command(opts);
      // A command that stopped cleanly on a signal (a service, or a job that finished anyway) exits as
      // an interruption: 130, 143 or 129.
      if (interrupt.signal.aborted)
        process.exit(exitStatusOf("INTERRUPTED", interruptSignalOf(interrupt.signal.reason)));
    } catch (e) {
      fail(e);
    }
  };
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * A whole-number flag: digits only (`Number` alone lets `--baud abc` through
 * as NaN, and `1e4` or `0x10` through as numbers nobody typed).
 */
function wholeNumber(min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min) {
      throw new InvalidArgumentError(`expected a whole number (digits only) of at least ${min}`);
    }
    return n;
  };
}
const positive = wholeNumber(1);
/** Milliseconds: digits only here; the range is the plan rule's (plan-rules.ts), whose message names it. */
function milliseconds(range: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v))
      throw new InvalidArgumentError(`expected a whole number of ms (digits only), ${range}`);
    return Number(v);
  };
}
const intervalMs = milliseconds("1000 to 3600000");
const timeoutMs = milliseconds("1 to 86400000 (24 h)");
const percentage = (v: string): number => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError("expected a percentage, e.g. 5");
  return n;
};
const portNumber = (v: string): number => {
  const n = wholeNumber(0)(v);
  if (n > 65535) throw new InvalidArgumentError("expected a port number 0-65535");
  return n;
};

function parseLocalPorts(v: string): { controlPlane: number; mqtts: number; wss: number } {
  const n = v.split(",").map(Number);
  if (n.length !== 3 || n.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) {
    throw new ProvisionError("USAGE", `--local-ports ${v}: expected three ports like 4566,8883,8443`);
  }
  return { controlPlane: n[0] ?? 0, mqtts: n[1] ?? 0, wss: n[2] ?? 0 };
}

/** `--device-timeout NAME=MS`, repeatable, into one object (names as DEVICE_TIMEOUT_NAMES, any case). */
function deviceTimeout(v: string, prev: Record<string, number> = {}): Record<string, number> {
  const m = /^([A-Za-z_]+)=(\d+)$/.exec(v.trim());
  const name = m?.[1]?.toUpperCase() ?? "";
  if (!m || !(DEVICE_TIMEOUT_NAMES as readonly string[]).includes(name))
    throw new InvalidArgumentError(`expected NAME=MS with NAME one of ${DEVICE_TIMEOUT_NAMES.join(", ")}`);
  const ms = Number(m[2]);
  if (ms < 100 || ms > 3_600_000) throw new InvalidArgumentError("expected 100 to 3600000 ms");
  return { ...prev, [name]: ms };
}

const untilOption = () =>
  new Option(
    "--until <what>",
    "end at the first publish (default), or at `committed`: after COMMIT, a restart and a STATUS showing the committed set (devices without a network)",
  ).choices(["published", "committed"]);

const UI_OPTION_HELP =
  "serve a live page on [host:]port (host default 127.0.0.1; any other host needs a token, generated and printed in the URL)";
const UI_TOKEN_HELP = "the page's token, read from this file (at least 16 characters)";

const KEY_TYPES: string[] = KEY_TYPE_NAME_LIST;
const KEY_STORES: string[] = KEY_STORE_NAME_LIST;

/** Key and CSR subject flags (provision, station, csr). */
function keyOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--key-type <type>", "key type").choices(KEY_TYPES))
    .addOption(new Option("--key-store <store>", "key store").choices(KEY_STORES))
    .option("--subject <field=value>", "CSR subject field, repeatable (C, ST, L, O, OU, CN)", collect);
}

/**
 * What a provisioning writes and registers (provision, station). --ledger has no
 * commander default: it would always win over the config file's `ledger`.
 */
function planOptions(cmd: Command): Command {
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
function ledgerWaitOption(): Option {
  return new Option(
    "--ledger-wait <s>",
    "seconds to wait for another process writing the same ledger (default 120; 0: refuse at once)",
  ).argParser(wholeNumber(0));
}

/** Flags shared by every command that talks to a device. */
function deviceOptions(cmd: Command): Command {
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
function flashFlags(cmd: Command): Command {
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
function cloudOptions(cmd: Command): Command {
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

program
  .name("provision")
  .description(
    "Provision ESP32-class devices for AWS IoT: the key is made on the chip, the CSR comes back over the UART, " +
      "the certificate goes into flash, and the tool waits for the device's first publish.",
  )
  .version(PACKAGE_VERSION)
  // Flags after a subcommand belong to it (both the default command and `verify` have --port).
  .enablePositionalOptions()
  .showHelpAfterError();

// The command's name for --json output: "provision" for the default command, else "verify", "firmware render", ...
program.hook("preAction", (_root, action) => {
  const names: string[] = [];
  for (let c: Command | null = action; c?.parent; c = c.parent) names.unshift(c.name());
  commandName = names.length > 0 ? names.join(" ") : "provision";
});

flashFlags(planOptions(cloudOptions(deviceOptions(program))))
  .option("--force", "rotate: new key and certificate even if the device is provisioned")
  .option("--lock", "lock the device's provisioning commands when done")
  .option("--json", "print one JSON result object on stdout")
  .action(run(async () => (await import("../commands/provision.js")).provisionCommand));

cloudOptions(deviceOptions(program.command("verify")))
  .description("QA: restart an already provisioned device and wait for its first publish")
  .addOption(new Option("--timeout <ms>", "how long to wait for the first publish").argParser(positive))
  .addOption(untilOption())
  .option("--json", "print one JSON result object on stdout")
  .action(run(async () => (await import("../commands/verify.js")).verifyCommand));

program
  .command("flash")
  .addOption(
    new Option("-p, --port <path>", "serial port: a device, socket://HOST:PORT or rfc2217://HOST:PORT").env(
      "ESPPORT",
    ),
  )
  .option("--board <id>", "board definition, for its reset circuit (default: DTR/RTS auto-reset)")
  .description(
    "write firmware through the chip's ROM loader (esptool-js), verify it by MD5, reset into the app",
  )
  .requiredOption(
    "--image <dir|file>",
    "an ESP-IDF build folder (flasher_args.json), or a merged image file with --offset",
  )
  .option("--offset <addr>", "where a merged image file goes, e.g. 0x0")
  .addOption(
    new Option("--before <how>", "how to enter the loader (default: the board's reset circuit)").choices([
      "default-reset",
      "usb-reset",
      "no-reset",
    ]),
  )
  .addOption(
    new Option("--after <how>", "what to do after").choices(["hard-reset", "no-reset"]).default("hard-reset"),
  )
  .addOption(
    new Option("--flash-baud <rate>", "line rate for the transfers (falls back to 115200)").argParser(
      positive,
    ),
  )
  .option("--no-stub", "use the ROM loader only (no flasher stub in RAM)")
  .option("--erase-credentials", "also erase the NVS partition: the device's key and credentials")
  .option("--erase-all", "erase the whole flash first (asks to confirm; --yes in scripts)")
  .option("--yes", "confirm --erase-all without asking")
  .option("--reflash", "write every region even when the chip already holds it")
  .option("--json", "print one JSON result object on stdout")
  .action(run(async () => (await import("../commands/flash.js")).flashCommand));

program
  .command("ports")
  .description("list serial ports with USB ids, location and a board guess")
  .option("--all", "also list ports without USB ids (on-board UARTs, ptys)")
  .option("--json", "print JSON")
  .action(run(async () => (await import("../commands/ports.js")).portsCommand));

cloudOptions(program.command("cleanup"))
  .description(
    "finish every rollback a ledger left open and retire superseded certificates; or, with --things/--thing, audit and repair things from the cloud alone",
  )
  .option("--ledger <file>", "ledger file (with --things/--thing: where changes are recorded)")
  .option("--things <prefix>", "every thing whose name starts with PREFIX, from the cloud (no ledger needed)")
  .option("--thing <name>", "this thing, from the cloud (no ledger needed)")
  .option(
    "--keep <certificate-id>",
    "with --thing: keep this ACTIVE certificate and retire the thing's others",
  )
  .addOption(ledgerWaitOption())
  .option(
    "--include-uncommitted",
    "also retire runs that registered but have no COMMIT recorded (their device may hold the certificate)",
  )
  .option("--json", "print JSON")
  .action(run(async () => (await import("../commands/cleanup.js")).cleanupCommand));

keyOptions(deviceOptions(program.command("csr")))
  .description("print the device's CSR as PEM (generating the key if there is none)")
  .option("--json", "print JSON")
  .action(run(async () => (await import("../commands/csr.js")).csrCommand));

deviceOptions(program.command("install"))
  .description("write a certificate and endpoint into the device (for CSRs signed elsewhere)")
  .requiredOption("--cert <file>", "device certificate PEM")
  .requiredOption("--endpoint <host>", "MQTT endpoint host")
  .option("--ca <file>", "root CA PEM(s) for the endpoint (default: Amazon Root CA 1 and 3)")
  .addOption(new Option("--mqtt-port <n>", "MQTT port").argParser(portNumber).default(8883))
  .requiredOption("--thing-name <name>", "thing name = MQTT client id")
  .option("--topic <topic>", "topic to publish the counter on (default '<thing>/counter')")
  .addOption(
    new Option("--interval <ms>", "publish interval in ms (1000 to 3600000)")
      .argParser(intervalMs)
      .default(5000),
  )
  .addOption(new Option("--wifi-ssid <ssid>", "Wi-Fi network").env("PROVISION_WIFI_SSID"))
  .option("--wifi-password-file <file>", "file holding the Wi-Fi password (or env PROVISION_WIFI_PASSWORD)")
  .option("--restart", "restart the device afterwards")
  .option("--json", "print JSON")
  .action(run(async () => (await import("../commands/install.js")).installCommand));

const IDF_OPTION_HELP =
  "ESP-IDF to build with: a kit version (e.g. 6.0.2) or an ESP-IDF folder (default: $IDF_PATH, else the newest kit)";

program
  .command("sim")
  .description(
    "start devices on pseudo-terminals (twins, the ESP-IDF port on ESP-IDF's linux target, or a chip image on an emulated chip)",
  )
  .addOption(new Option("--count <n>", "how many devices").argParser(positive).default(1))
  .option(
    "--board <id>",
    "twin (the C core on Linux), idf-linux (the ESP-IDF port, built with ESP-IDF), or a chip board with --emulate",
    "twin",
  )
  .option("--emulate", "boot the board's whole image on an emulated chip (QEMU; esp32-c3-devkitm-1)")
  .option(
    "--blank",
    "with --emulate: a blank board (erased flash) to flash, on an rfc2217:// port with reset lines",
  )
  .addOption(
    new Option(
      "--uart <kind>",
      "with --emulate: UART0 on a pty, or on an rfc2217:// port with DTR/RTS auto-reset",
    ).choices(["pty", "rfc2217"]),
  )
  .addOption(
    new Option("--key-store <store>", "with --emulate: the image's key store (default: the board's)").choices(
      KEY_STORES.filter((s) => s !== "file"),
    ),
  )
  .option("--idf <version|dir>", IDF_OPTION_HELP)
  .option("--state-dir <dir>", "where the devices keep their flash", ".state/twins")
  .addOption(
    new Option("--line-rate <baud>", "pace twin output like a real UART (twins only)").argParser(positive),
  )
  .option("--json", "print a JSON array of {port, deviceId, stateDir}")
  .action(run(async () => (await import("../commands/sim.js")).simCommand));

program
  .command("local-iot")
  .description("run the local AWS IoT (control plane, CA, MQTT broker) until interrupted")
  .addOption(new Option("--port <n>", "control-plane port (0 = any)").argParser(portNumber).default(0))
  .addOption(new Option("--mqtt-port <n>", "MQTT mTLS port (0 = any)").argParser(portNumber).default(0))
  .addOption(new Option("--wss-port <n>", "MQTT over WSS port (0 = any)").argParser(portNumber).default(0))
  .option("--state-dir <dir>", "state directory", ".state/local-iot")
  .option("--json", "print one JSON object with what a client needs")
  .action(run(async () => (await import("../commands/local-iot.js")).localIotCommand));

const firmware = program
  .command("firmware")
  .description("device firmware: render ESP-IDF projects, build the twin and the idf-linux device");
firmware
  .command("render")
  .description("render a complete ESP-IDF project for a board")
  .requiredOption("--board <id>", "board id (see boards/)")
  .requiredOption("--out <dir>", "output directory")
  .option("--overwrite", "replace an existing output directory")
  .addOption(
    new Option("--key-store <store>", "key store to build in (default: the board's)").choices(
      KEY_STORES.filter((s) => s !== "file"),
    ),
  )
  .option("--json", "print {board, outDir, files} as JSON")
  .action(run(async () => (await import("../commands/firmware.js")).firmwareRenderCommand));
firmware
  .command("build")
  .description(
    "build firmware: the twin, idf-linux (ESP-IDF's linux target), or a chip board's images (bootloader, partition table, app)",
  )
  .requiredOption("--board <id>", "board id")
  .addOption(
    new Option("--key-store <store>", "key store to build in, chip boards (default: the board's)").choices(
      KEY_STORES.filter((s) => s !== "file"),
    ),
  )
  .option("--idf <version|dir>", IDF_OPTION_HELP)
  .option("--json", "print what was built as one JSON object (chip boards: buildDir, images, partitions)")
  .action(run(async () => (await import("../commands/firmware.js")).firmwareBuildCommand));

flashFlags(planOptions(cloudOptions(program.command("station"))))
  .description("factory station: provision every device that appears on the given or watched ports")
  .argument("[ports...]", "explicit ports, one slot each (or --watch / --fixture)")
  .option("--watch", "watch for ports whose USB ids match a board (hotplug)")
  .option("--fixture <file>", "JSON map of slot name -> USB location (implies --watch)")
  .addOption(new Option("--concurrency <n>", "devices in flight at once").argParser(positive).default(8))
  .option(
    "--manifest <prefix>",
    "manifest prefix: writes <prefix>.manifest.csv and .manifest.jsonl (a prefix ending in 'manifest' is not doubled)",
    "provision-manifest",
  )
  .option("--station-id <id>", "station name in the manifest (default: host name)")
  .option(
    "--quota <op=tps>",
    "an account quota (requests/s) over what Service Quotas says, e.g. CreateCertificateFromCsr=50; repeatable",
    collect,
  )
  .addOption(
    new Option(
      "--headroom <pct>",
      "how far under each quota the station stays, in percent (1-50; default 10); give every station on one --rate-store the same",
    ).argParser(percentage),
  )
  .option(
    "--rate-store <url>",
    "share each operation's budget with other stations through Redis (redis://host:port; a URL with a password only from PROVISION_RATE_STORE or the config's rateStore, or the password in PROVISION_RATE_STORE_PASSWORD)",
  )
  .option(
    "--local-iot-info <file>",
    "use a running `provision local-iot` (its --json output saved in FILE) instead of starting one",
  )
  .option("--board <id>", "board definition (default: from HELLO)")
  .addOption(
    new Option("-b, --baud <rate>", "baud rate to meet each device at").env("ESPBAUD").argParser(positive),
  )
  .addOption(
    new Option(
      "--device-timeout <name=ms>",
      "wait longer for slow devices, repeatable: BOOT or a command (GENERATE_KEY, GET_CSR, COMMIT, ...) per attempt",
    ).argParser(deviceTimeout),
  )
  .option("--force", "rotate: new key and certificate even for provisioned devices")
  .option("--lock", "lock each device's provisioning commands when done")
  .option("--json", "one JSON line per finished device on stdout")
  .option("--ui <[host:]port>", UI_OPTION_HELP)
  .option("--ui-token-file <file>", UI_TOKEN_HELP)
  .action((ports: string[], opts: Record<string, unknown>) =>
    run(async () => (await import("../commands/station.js")).stationCommand)({
      ...opts,
      ...(ports.length > 0 ? { ports } : {}),
    }),
  );

program
  .command("station-view")
  .description("several stations side by side in a browser, read from their --ui pages (read-only)")
  .argument("<urls...>", "the URL each station printed for --ui (with its ?token=...)")
  .option("--ui <[host:]port>", UI_OPTION_HELP, "8090")
  .option("--ui-token-file <file>", UI_TOKEN_HELP)
  .action((urls: string[], opts: Record<string, unknown>) =>
    run(async () => (await import("../commands/station-view.js")).stationViewCommand)({
      ...opts,
      urls,
    } as { urls: string[]; ui: string }),
  );

program
  .command("manifest")
  .description("station manifests")
  .command("merge")
  .description("merge several stations' manifests into one (each device and certificate once)")
  .argument("<manifests...>", "manifest prefixes or .jsonl files")
  .requiredOption(
    "--out <prefix>",
    "writes <prefix>.manifest.csv and .manifest.jsonl (appends what they lack)",
  )
  .option("--json", "print the merge report as JSON")
  .action((manifests: string[], opts: Record<string, unknown>) =>
    run(async () => (await import("../commands/manifest.js")).manifestMergeCommand)({
      ...opts,
      manifests,
    } as {
      manifests: string[];
      out: string;
    }),
  );

program
  .command("demo")
  .description("provision a device twin against a local AWS IoT: no hardware, no AWS account")
  .addOption(new Option("--key-type <type>", "key type").choices(KEY_TYPES))
  .option("--state-dir <dir>", "where the demo keeps its state (default: a new temp dir)")
  .option("--json", "print one JSON result object on stdout")
  .action(run(async () => (await import("../commands/demo.js")).demoCommand));

installInterruptHandler(fail);

program.parseAsync(process.argv).catch(fail);
