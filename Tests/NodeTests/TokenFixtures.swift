import CohortBase
import Admission
import DHT

/// A run "tokens" whose key is `identity(900)`, and tokens for test identities, at a fixed or
/// real time.
enum TestRun {
    static let name = "tokens"
    static let owner = identity(900)
    static let now: UInt64 = 1_800_000_000_000
    static let hour: UInt64 = 3_600_000

    static var rules: AdmissionRules { AdmissionRules(runName: name, runPublicKey: owner.publicKey) }

    /// A token for `holder`, signed by the run's key unless `signer` is given.
    static func token(for holder: PeerIdentity, expiry: UInt64 = now + hour, signer: PeerIdentity = owner,
                      run: String = name) -> AccessToken {
        let claims = AccessToken.Claims(runName: run, peerPublicKey: holder.publicKey, name: "peer-\(holder.peerID.description.prefix(6))",
                                        serial: 7, issuedAt: .at(expiry - 2 * hour), expiresAt: .at(expiry))
        guard let token = try? AccessToken(signing: claims, with: signer.privateKey) else {
            preconditionFailure("test claims are valid")
        }
        return token
    }

    /// The run's revocation list number `sequence` revoking `holders`.
    static func revoking(_ holders: [PeerIdentity], sequence: UInt64) -> RevocationList {
        let keys = holders.map(\.publicKey).sorted { $0.lexicographicallyPrecedes($1) }
        guard let list = try? RevocationList(signing: .init(runName: name, sequence: sequence, issuedAt: .at(now), revokedKeys: keys),
                                             with: owner.privateKey) else {
            preconditionFailure("test revocation lists are valid")
        }
        return list
    }
}

extension WallClockInstant {
    /// The moment `milliseconds` since the epoch, as tokens write times.
    static func at(_ milliseconds: UInt64) -> WallClockInstant { WallClockInstant(millisecondsSinceEpoch: milliseconds) }
}
