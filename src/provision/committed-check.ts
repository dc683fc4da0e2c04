/**
 * `--until committed`: the end of a provisioning for a station whose devices
 * cannot reach the cloud (no Wi-Fi at the fixture, the emulated chip). After
 * COMMIT the device restarts; its BOOT event shows the new boot, and STATUS
 * from that boot must show the committed set the tool wrote (its generation,
 * the set's and the certificate's digests), read back from flash. The first
 * publish is not checked: `provision verify` does that later, where the
 * device has a network.
 */
import { ProvisionError } from "../errors.js";
import { type CredentialSet, DEVICE_STATE, EVENT_CODE, encodeRequest, sha256 } from "../protocol/index.js";
import { type DeviceSession, helloAfterBoot } from "../session/index.js";
import { unlessInterrupted } from "./interruption.js";
import { stateName } from "./names.js";

export interface CommittedCheck {
  generation: number;
  /** Hex SHA-256 of the committed credential payload and of the certificate, as STATUS reports them. */
  setDigest: string;
  certificateDigest: string;
  /** RESTART asked to the BOOT event of the new boot. */
  rebootMs: number;
}

/** What STATUS must show after the restart. */
export interface ExpectedSet {
  setDigest: Buffer;
  certSha256: Buffer;
  /** From COMMIT's answer; undefined when that answer was lost (the digests still identify the set). */
  generation: number | undefined;
}

/** The digests a device reports for a set it committed. */
export function expectedSet(set: CredentialSet, generation: number | undefined): ExpectedSet {
  return {
    setDigest: sha256(encodeRequest("WRITE_CREDENTIALS", set)),
    certSha256: sha256(set.certificatePem),
    generation,
  };
}

export async function restartAndConfirmCommitted(
  session: DeviceSession,
  want: ExpectedSet,
  opts: { bootTimeoutMs?: number; signal?: AbortSignal } = {},
): Promise<CommittedCheck> {
  const budgetMs = opts.bootTimeoutMs ?? session.bootTimeoutMs;
  const where = session.port;
  let onEvent: ((e: { code: number }) => void) | undefined;
  const booted = new Promise<void>((done, fail) => {
    const timer = setTimeout(
      () =>
        fail(
          new ProvisionError("DEVICE_SILENT", `the device did not restart within ${budgetMs} ms of RESTART`, {
            where,
            hint: "no BOOT event came from a new boot: check the device log; a slow device can be given longer with --device-timeout BOOT=MS",
            deviceLog: session.deviceLog.slice(-20),
          }),
        ),
      budgetMs,
    );
    onEvent = (e) => {
      if (e.code !== EVENT_CODE.BOOT) return;
      clearTimeout(timer);
      done();
    };
    session.on("event", onEvent);
  });
  try {
    const restartedAt = Date.now();
    await session.restart();
    await unlessInterrupted(opts.signal, booted);
    const rebootMs = Date.now() - restartedAt;
    await helloAfterBoot(session, budgetMs, opts.signal);
    const status = await session.status();
    const { generation } = want;
    if (
      status.state !== DEVICE_STATE.PROVISIONED ||
      status.generation === undefined ||
      (generation !== undefined && status.generation !== generation) ||
      !status.setDigest?.equals(want.setDigest) ||
      !status.certSha256?.equals(want.certSha256)
    )
      throw new ProvisionError(
        "DEVICE_MISMATCH",
        `after its restart the device reports ${stateName(status.state)}, generation ${status.generation ?? "none"}, not the set it committed${generation === undefined ? "" : ` as generation ${generation}`}`,
        {
          where,
          hint: "its flash did not keep the committed credentials: check the NVS partition, then run provision --force",
          deviceLog: session.deviceLog.slice(-20),
        },
      );
    return {
      generation: status.generation,
      setDigest: want.setDigest.toString("hex"),
      certificateDigest: want.certSha256.toString("hex"),
      rebootMs,
    };
  } finally {
    if (onEvent) session.off("event", onEvent);
  }
}
