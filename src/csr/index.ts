export {
  describeSpki,
  type EcCurve,
  KEY_POLICY_AWS,
  KEY_POLICY_DEFAULT,
  type KeyPolicy,
  type KeyType,
  keyPolicyViolation,
} from "./key-policy.js";
export {
  certificateSpkiSha256,
  csrPublicKeySpki,
  type SubjectFields,
  sameBytes,
  spkiDigestHex,
  type VerifiedCertificate,
  type VerifiedCsr,
  type VerifyCsrOptions,
  verifyCsr,
  verifyIssuedCertificate,
} from "./verify-csr.js";
