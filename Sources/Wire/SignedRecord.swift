import CohortBase

/// One entry of a DHT dictionary value: the value a writer keeps under (key, subkey) until
/// `expiry`, with the writer's Ed25519 public key and signature.
///
/// This type only carries bytes; the DHT target signs and verifies. `signingPayload` fixes
/// exactly which bytes the signature covers (docs/protocol.md, "Record signing").
public struct SignedRecord: Hashable, Sendable {
    public var key: DHTID
    public var subkey: [UInt8]
    public var value: [UInt8]
    /// Milliseconds since the Unix epoch after which the record is dropped.
    public var expiry: UInt64
    /// `expiry` as an instant, to compare with a clock reading.
    public var expiresAt: WallClockInstant { WallClockInstant(millisecondsSinceEpoch: expiry) }
    /// The writer's raw 32-byte Ed25519 public key.
    public var ownerPublicKey: [UInt8]
    /// The 64-byte Ed25519 signature over `signingPayload`.
    public var signature: [UInt8]

    public static let publicKeyLength = 32
    public static let signatureLength = 64
    /// Domain separation, so a record signature can never be replayed as another message.
    public static let signingDomain: [UInt8] = Array("cohort-dht-record-v1".utf8)

    public init(key: DHTID, subkey: [UInt8], value: [UInt8], expiry: UInt64,
                ownerPublicKey: [UInt8], signature: [UInt8]) {
        self.key = key
        self.subkey = subkey
        self.value = value
        self.expiry = expiry
        self.ownerPublicKey = ownerPublicKey
        self.signature = signature
    }

    /// The bytes the writer signs: the domain, then every field but the signature.
    public var signingPayload: [UInt8] {
        Self.signingPayload(key: key, subkey: subkey, value: value, expiry: expiry, ownerPublicKey: ownerPublicKey)
    }

    /// The bytes a writer signs for these fields (the signature is not yet known).
    public static func signingPayload(key: DHTID, subkey: [UInt8], value: [UInt8], expiry: UInt64,
                                      ownerPublicKey: [UInt8]) -> [UInt8] {
        var writer = ByteWriter(reservingCapacity: 128 + subkey.count + value.count)
        writer.writeWithU8Length(signingDomain)
        writer.write(raw: key.bytes)
        writer.writeWithU8Length(subkey)
        writer.writeWithU32Length(value)
        writer.write(expiry)
        writer.write(raw: ownerPublicKey)
        return writer.bytes
    }
}
