import Admission
import CohortBase
import Crypto
import Foundation
import FuzzSupport

/// A fixed run key, so that inputs can reach the checks behind a valid signature.
private let runKey = try! Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 9, count: 32))
private let runPublicKey = Array(runKey.publicKey.rawRepresentation)
private let rules = AdmissionRules(runName: "fuzz", runPublicKey: runPublicKey)
/// The signing domains, as docs/protocol.md gives them (u8 length, then the ASCII bytes).
private let tokenDomain = [UInt8(22)] + Array("cohort-access-token-v1".utf8)
private let listDomain = [UInt8(25)] + Array("cohort-revocation-list-v1".utf8)

/// The first input byte picks a parser, the rest is its input:
///   0: `AccessToken(decoding:)`; 1: the bytes as a token body signed by the fixed run key, then
///   decoded; 2: `AccessToken(text:)`; 3: `RevocationList(decoding:)`; 4: a list body signed by
///   the fixed key, then decoded; 5: `RevocationList(text:)`.
/// What decodes must re-encode to the same bytes, and what the fixed key signed must verify
/// and pass through the admission rules without a crash. Thrown errors are expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAccessToken(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    switch selector % 6 {
    case 0: checkToken(input, signedByRunKey: false)
    case 1: checkToken(input + sign(tokenDomain + input), signedByRunKey: true)
    case 2: if let token = try? AccessToken(text: input) { checkToken(token.encoded, signedByRunKey: false) }
    case 3: checkList(input, signedByRunKey: false)
    case 4: checkList(input + sign(listDomain + input), signedByRunKey: true)
    default: if let list = try? RevocationList(text: input) { checkList(list.encoded, signedByRunKey: false) }
    }
    return 0
}

private func sign(_ bytes: [UInt8]) -> [UInt8] {
    Array(try! runKey.signature(for: bytes))
}

private func checkToken(_ encoded: [UInt8], signedByRunKey: Bool) {
    guard let token = try? AccessToken(decoding: encoded) else { return }
    precondition(token.encoded == encoded, "access token encoding is not canonical: \(token)")
    precondition(try! AccessToken(text: Array(token.text.utf8)) == token, "access token text does not round-trip")
    if signedByRunKey && token.issuerPublicKey == runPublicKey {
        precondition(token.hasValidSignature, "a token the run key signed does not verify")
    }
    let admitted = try? rules.admit(presented: encoded, provenKey: token.claims.peerPublicKey, now: WallClockInstant(millisecondsSinceEpoch: token.claims.issuedAt))
    if admitted != nil {
        precondition(token.issuerPublicKey == runPublicKey && token.claims.runName == "fuzz", "a foreign token was admitted")
    }
}

private func checkList(_ encoded: [UInt8], signedByRunKey: Bool) {
    guard let list = try? RevocationList(decoding: encoded) else { return }
    precondition(list.encoded == encoded, "revocation list encoding is not canonical: \(list.contents.sequence)")
    precondition(try! RevocationList(text: Array(list.text.utf8)) == list, "revocation list text does not round-trip")
    var held = rules
    let applied = (try? held.apply(list)) == true
    if signedByRunKey && list.issuerPublicKey == runPublicKey && list.contents.runName == "fuzz" {
        precondition(applied, "a list of the run signed by its key was not applied")
        precondition(held.revokedKeys == Set(list.contents.revokedKeys), "applied list and revoked keys differ")
    }
}

/// SwiftPM links executables with `main` aliased to `<Target>_main`; this is it.
@_cdecl("FuzzAccessToken_main")
public func fuzzAccessTokenMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, test: fuzzAccessToken, seeds: seeds)
}

/// A valid token, list and their text forms for each path, signed by the fixed key.
private func seeds() -> [FuzzSeed] {
    let peer = [UInt8](repeating: 3, count: 32)
    let claims = AccessToken.Claims(runName: "fuzz", peerPublicKey: peer, name: "volunteer ünïcode", serial: 99,
                                    issuedAt: 1_800_000_000_000, expiry: 1_800_086_400_000)
    let token = try! AccessToken(signing: claims, with: runKey)
    let keys = [[UInt8](repeating: 1, count: 32), peer]
    let list = try! RevocationList(signing: .init(runName: "fuzz", sequence: 3, issuedAt: 1_800_000_000_000, revokedKeys: keys),
                                   with: runKey)
    let empty = try! RevocationList(signing: .init(runName: "fuzz", sequence: 1, issuedAt: 0, revokedKeys: []), with: runKey)
    return [
        ("token", [0] + token.encoded),
        ("token-body", [1] + token.encoded.dropLast(64)),
        ("token-text", [2] + Array(token.text.utf8)),
        ("list", [3] + list.encoded),
        ("list-empty", [3] + empty.encoded),
        ("list-body", [4] + list.encoded.dropLast(64)),
        ("list-text", [5] + Array(list.text.utf8)),
    ]
}
