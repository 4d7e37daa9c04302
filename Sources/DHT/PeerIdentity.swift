import CohortBase
import Crypto
import Wire

/// The id type of record keys, in the same 256-bit space as peers (Kademlia §2.1).
public typealias RecordKey = DHTID

extension PeerID {
    /// A peer id: SHA-256 of the peer's raw 32-byte Ed25519 public key.
    public init(publicKey: [UInt8]) {
        guard let id = PeerID(bytes: Array(SHA256.hash(data: publicKey))) else {
            preconditionFailure("SHA-256 gives 32 bytes")
        }
        self = id
    }
}

extension DHTID {
    /// A record key: SHA-256 of the UTF-8 bytes of a name such as "run/shakespeare/progress".
    public init(hashing name: String) {
        guard let id = DHTID(bytes: Array(SHA256.hash(data: Array(name.utf8)))) else {
            preconditionFailure("SHA-256 gives 32 bytes")
        }
        self = id
    }
}

/// A peer's Ed25519 signing key and the id derived from it.
///
/// Keeps the raw 32-byte private key (Crypto's key type is not `Sendable` on every platform)
/// and rebuilds the key object when it signs.
public struct PeerIdentity: Sendable {
    private let privateKeyBytes: [UInt8]
    /// The raw 32-byte public key.
    public let publicKey: [UInt8]
    public let peerID: PeerID

    public init(privateKey: Curve25519.Signing.PrivateKey) {
        self.privateKeyBytes = Array(privateKey.rawRepresentation)
        self.publicKey = Array(privateKey.publicKey.rawRepresentation)
        self.peerID = PeerID(publicKey: publicKey)
    }

    /// An identity whose key is derived from 32 seed bytes drawn from `generator` (tests, simulation).
    public init(using generator: inout some RandomNumberGenerator) {
        let seed = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        self.init(privateKey: Self.key(seed))
    }

    /// The Ed25519 private key.
    public var privateKey: Curve25519.Signing.PrivateKey { Self.key(privateKeyBytes) }

    private static func key(_ bytes: [UInt8]) -> Curve25519.Signing.PrivateKey {
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes) else {
            preconditionFailure("any 32 bytes are an Ed25519 private key")
        }
        return key
    }

    /// A record for (key, subkey) holding `value` until `expiresAt`, signed by this identity.
    public func signRecord(key: RecordKey, subkey: [UInt8], value: [UInt8], expiresAt: WallClockInstant) -> SignedRecord {
        let expiry = expiresAt.millisecondsSinceEpoch
        let payload = SignedRecord.signingPayload(key: key, subkey: subkey, value: value, expiry: expiry, ownerPublicKey: publicKey)
        guard let signature = try? privateKey.signature(for: payload) else {
            preconditionFailure("Ed25519 signing does not fail for a valid key")
        }
        return SignedRecord(key: key, subkey: subkey, value: value, expiry: expiry,
                            ownerPublicKey: publicKey, signature: Array(signature))
    }
}

extension SignedRecord {
    /// Whether `signature` is the owner's Ed25519 signature over `signingPayload`.
    public var hasValidSignature: Bool {
        guard ownerPublicKey.count == Self.publicKeyLength, signature.count == Self.signatureLength,
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: ownerPublicKey) else { return false }
        return key.isValidSignature(signature, for: signingPayload)
    }

    /// The peer id of the writer.
    public var ownerID: PeerID { PeerID(publicKey: ownerPublicKey) }

    /// Whether the record sits under its writer's own subkey (its peer id). Keys where every
    /// peer writes one record about itself (progress, state, declarations, reports) count only
    /// such records: anyone may store under any subkey, so a record under another peer's id
    /// would otherwise speak for that peer, or a second record give its writer a second vote.
    public var isUnderOwnersSubkey: Bool { subkey == ownerID.bytes }
}
