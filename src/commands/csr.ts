/**
 * `provision csr --port P`: the manual path (CSR uploaded in the AWS console,
 * or signed by the user's own CA). The key is made on the chip if there is
 * none; the CSR is checked like in the full flow before it is printed.
 */

import { getBoard } from "../boards/index.js";
import { verifyCsr } from "../csr/index.js";
import { safeJson } from "../printable.js";
import {
  KEY_STORE_NAMES,
  KEY_TYPE_NAMES,
  type KeyStoreName,
  type KeyTypeName,
} from "../provision/pipeline.js";
import { type DeviceLinkOptions, openDevice } from "./device-link.js";
import { parseSubject } from "./plan.js";

export interface CsrCommandOptions extends DeviceLinkOptions {
  keyType?: KeyTypeName;
  keyStore?: KeyStoreName;
  subject?: string[];
  json?: boolean;
}

export async function csrCommand(opts: CsrCommandOptions): Promise<void> {
  // A --subject typo must fail before the device makes a key.
  const subject = parseSubject(opts.subject);
  const session = await openDevice(opts);
  try {
    const hello = await session.hello();
    let board: ReturnType<typeof getBoard> | undefined;
    try {
      board = getBoard(hello.boardId);
    } catch {
      board = undefined;
    }
    const keyType = opts.keyType ?? (board?.keyTypes.default as KeyTypeName | undefined) ?? "ec-p256";
    const keyStore = opts.keyStore ?? (board?.keyStore.default as KeyStoreName | undefined) ?? "nvs";
    const key = await session.generateKey({
      keyType: KEY_TYPE_NAMES[keyType],
      keyStore: KEY_STORE_NAMES[keyStore],
    });
    const csr = await verifyCsr(await session.getCsr(subject), {
      expectedPublicKeySpkiDer: key.publicKey,
      expectedSubject: { ...subject },
      where: `device ${hello.deviceId} on ${session.port}`,
    });
    if (opts.json) {
      process.stdout.write(
        `${safeJson({ ok: true, deviceId: hello.deviceId, keyType: csr.keyType, subject: csr.subject, csrPem: csr.csrPem, keyCreated: key.created })}\n`,
      );
    } else {
      process.stdout.write(csr.csrPem.endsWith("\n") ? csr.csrPem : `${csr.csrPem}\n`);
      process.stderr.write(
        `CSR of device ${hello.deviceId} (${csr.keyType}, ${key.created ? "key generated now" : "existing key"}), signature verified\n`,
      );
    }
  } finally {
    await session.close();
  }
}
