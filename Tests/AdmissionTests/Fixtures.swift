import CohortBase
import Admission
import Crypto

/// Keys from fixed seeds, so failures replay.
func signingKey(_ seed: UInt8) -> Curve25519.Signing.PrivateKey {
    guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: seed, count: 32)) else {
        preconditionFailure("any 32 bytes are an Ed25519 private key")
    }
    return key
}

func publicKey(_ key: Curve25519.Signing.PrivateKey) -> [UInt8] {
    Array(key.publicKey.rawRepresentation)
}

extension WallClockInstant {
    /// The moment `milliseconds` since the epoch, as tokens write times.
    static func at(_ milliseconds: UInt64) -> WallClockInstant { WallClockInstant(millisecondsSinceEpoch: milliseconds) }
}

/// A run "shakespeare" whose key is seed 1, a volunteer "alice" with seed 2, at a fixed time.
enum Sample {
    static var runKey: Curve25519.Signing.PrivateKey { signingKey(1) }
    static var alice: Curve25519.Signing.PrivateKey { signingKey(2) }
    static var bob: Curve25519.Signing.PrivateKey { signingKey(3) }
    static let now: UInt64 = 1_800_000_000_000
    static let day: UInt64 = 86_400_000

    static var rules: AdmissionRules { AdmissionRules(runName: "shakespeare", runPublicKey: publicKey(runKey)) }

    static func claims(for key: Curve25519.Signing.PrivateKey = alice, name: String = "alice",
                       run: String = "shakespeare", expiry: UInt64 = now + day) -> AccessToken.Claims {
        AccessToken.Claims(runName: run, peerPublicKey: publicKey(key), name: name, serial: 42, issuedAt: .at(now - day),
                           expiresAt: .at(expiry))
    }

    static func token(for key: Curve25519.Signing.PrivateKey = alice, run: String = "shakespeare", expiry: UInt64 = now + day,
                      signer: Curve25519.Signing.PrivateKey = runKey) throws -> AccessToken {
        try AccessToken(signing: claims(for: key, run: run, expiry: expiry), with: signer)
    }

    static func revocations(_ keys: [[UInt8]], sequence: UInt64, run: String = "shakespeare",
                            signer: Curve25519.Signing.PrivateKey = runKey) throws -> RevocationList {
        try RevocationList(signing: .init(runName: run, sequence: sequence, issuedAt: .at(now),
                                          revokedKeys: keys.sorted { $0.lexicographicallyPrecedes($1) }),
                           with: signer)
    }
}
