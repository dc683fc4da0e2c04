/**
 * The command table: every command, its flags and what they take, and the
 * module each one loads to run (src/commands/<name>.ts). `provision [flags]`
 * alone, the default job, usually starts without it (default-job.ts, whose
 * flags are this table's, written out by the build).
 */
import { Command, Option } from "commander";
import { PACKAGE_VERSION } from "../package-root.js";
import { exitCodeFor } from "./exit-codes.js";
import {
  cloudOptions,
  deviceOptions,
  flashFlags,
  KEY_STORES,
  KEY_TYPES,
  keyOptions,
  ledgerWaitOption,
  planOptions,
  untilOption,
} from "./flag-groups.js";
import { collect, deviceTimeout, intervalMs, percentage, portNumber, positive } from "./flag-values.js";
import { fail, run, runDefaultJob, setCommandName, setCommandPath } from "./run.js";
import { commandPathOf, jsonRequested, usageError } from "./usage-json.js";

const UI_OPTION_HELP =
  "serve a live page on [host:]port (host default 127.0.0.1; any other host needs a token, generated and printed in the URL)";
const UI_TOKEN_HELP = "the page's token, read from this file (at least 16 characters)";

/** A new command table (the tests make several), its errors mapped as the CLI maps them. */
export function commandTable(): Command {
  const program = new Command();
  setCommandPath(() => commandPathOf(program));

  // Commander exits 1 on a bad flag, which the README reserves for internal errors; usage errors are 2.
  // Under --json the error is one object on stdout (usage-json.ts), and commander's text and help stay out.
  // Set before the subcommands are made: they copy it.
  program.exitOverride((err) => {
    if (err.exitCode === 0) process.exit(0);
    if (jsonRequested()) fail(usageError(err, commandPathOf(program)));
    process.exit(exitCodeFor("USAGE"));
  });
  program.configureOutput({ writeErr: (text) => (jsonRequested() ? undefined : process.stderr.write(text)) });

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
    setCommandName(names.length > 0 ? names.join(" ") : "provision");
  });

  flashFlags(planOptions(cloudOptions(deviceOptions(program))))
    .option("--force", "rotate: new key and certificate even if the device is provisioned")
    .option("--lock", "lock the device's provisioning commands when done")
    .option("--json", "print one JSON result object on stdout")
    .action(runDefaultJob);

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
      new Option("--after <how>", "what to do after")
        .choices(["hard-reset", "no-reset"])
        .default("hard-reset"),
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
    .option(
      "--things <prefix>",
      "every thing whose name starts with PREFIX, from the cloud (no ledger needed)",
    )
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
      new Option(
        "--key-store <store>",
        "with --emulate: the image's key store (default: nvs, the one the emulator models fully)",
      ).choices(KEY_STORES.filter((s) => s !== "file")),
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

  return program;
}
