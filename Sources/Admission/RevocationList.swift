import CohortBase
import Crypto
import Wire

/// The peer keys a run no longer admits, signed by the run's key. The coordinator publishes
/// it in the DHT; every admitted-only node applies the newest one it can verify, closes its
/// connections to revoked peers and drops their records. A higher `sequence` replaces a lower.
///
/// Layout (docs/protocol.md, "Revocation lists"):
///
///     u8 version (1) · bytes8 run name · u64 sequence · u64 issued at (ms)
///     · u16 count · count × revoked public key (32), strictly ascending
///     · issuer public key (32) · signature (64)
///
/// signed like a token, under the domain `u8 25 · "cohort-revocation-list-v1"`.
public struct RevocationList: Hashable, Sendable {
    /// What the run's key states.
    public struct Contents: Hashable, Sendable {
        public var runName: String
        /// Orders lists: a node keeps the highest it has verified.
        public var sequence: UInt64
        /// When the list was signed (informational).
        public var issuedAt: WallClockInstant
        /// Raw Ed25519 public keys, strictly ascending (so one set has one encoding).
        public var revokedKeys: [[UInt8]]

        public init(runName: String, sequence: UInt64, issuedAt: WallClockInstant, revokedKeys: [[UInt8]]) {
            self.runName = runName
            self.sequence = sequence
            self.issuedAt = issuedAt
            self.revokedKeys = revokedKeys
        }

        /// Throws unless the fields are within bounds and the keys strictly ascending.
        public func validate() throws(AdmissionError) {
            try AdmissionText.validate(runName, what: "run name")
            guard sequence >= 1 else { throw AdmissionError("sequence is 0; the first list is 1") }
            guard revokedKeys.count <= RevocationList.maxKeys else {
                throw AdmissionError("\(revokedKeys.count) revoked keys, more than \(RevocationList.maxKeys)")
            }
            for (index, key) in revokedKeys.enumerated() {
                guard key.count == AccessToken.keyLength else { throw AdmissionError("revoked key \(index) is \(key.count) bytes, not 32") }
                if index > 0 && !revokedKeys[index - 1].lexicographicallyPrecedes(key) {
                    throw AdmissionError("revoked key \(index) is not above the one before (keys must be sorted and unique)")
                }
            }
        }
    }

    public static let version: UInt8 = 1
    /// Keys one list holds at most: 32 KiB of keys, well inside a DHT value.
    public static let maxKeys = 1024
    static let signingDomain: [UInt8] = Array("cohort-revocation-list-v1".utf8)
    /// The tag of the one-line text form (the coordinator's `revocations` file).
    public static let textTag = "cohort-revocation-list-v1"
    public static let maxEncodedLength = 1 + (1 + 64) + 8 + 8 + 2 + maxKeys * AccessToken.keyLength
        + AccessToken.keyLength + AccessToken.signatureLength

    public let contents: Contents
    public let issuerPublicKey: [UInt8]
    public let signature: [UInt8]

    /// The name of the DHT key the run's list is published under (its record key is the
    /// SHA-256 of it, as for every DHT key name).
    public static func recordName(runName: String) -> String {
        "cohort/\(runName)/revocations"
    }

    /// Validates `contents` and signs them with the run's key.
    public init(signing contents: Contents, with runKey: Curve25519.Signing.PrivateKey) throws(AdmissionError) {
        do throws(AdmissionError) {
            try contents.validate()
        } catch {
            throw error.prefixed("revocation list")
        }
        self.contents = contents
        issuerPublicKey = Array(runKey.publicKey.rawRepresentation)
        guard let signature = try? runKey.signature(for: Self.signedBytes(body: Self.body(contents, issuer: issuerPublicKey))) else {
            preconditionFailure("Ed25519 signing does not fail for a valid key")
        }
        self.signature = Array(signature)
    }

    /// Decodes the binary form, refusing anything out of bounds, unsorted or left over. The
    /// signature is checked by `AdmissionRules.apply`.
    public init(decoding bytes: [UInt8]) throws(AdmissionError) {
        do throws(AdmissionError) {
            guard bytes.count <= Self.maxEncodedLength else {
                throw AdmissionError("\(bytes.count) bytes, more than the \(Self.maxEncodedLength) of any list")
            }
            var reader = ByteReader(bytes)
            let version = try decodingField("version") { () throws(WireError) in try reader.readU8() }
            guard version == Self.version else { throw AdmissionError("version \(version), expected \(Self.version)") }
            let runName = try AdmissionText.decode(
                try decodingField("run name") { () throws(WireError) in try reader.readU8LengthPrefixed(maxLength: AdmissionText.maxBytes) },
                what: "run name")
            let (sequence, issuedAt) = try decodingField("sequence and time") { () throws(WireError) in
                (try reader.readU64(), try reader.readU64())
            }
            let count = try decodingField("key count") { () throws(WireError) in
                try reader.readU16Count(maxCount: Self.maxKeys, minimumElementLength: AccessToken.keyLength)
            }
            var keys: [[UInt8]] = []
            keys.reserveCapacity(count)
            for _ in 0..<count {
                keys.append(try decodingField("revoked key") { () throws(WireError) in try reader.readBytes(count: AccessToken.keyLength) })
            }
            let issuer = try decodingField("issuer key") { () throws(WireError) in try reader.readBytes(count: AccessToken.keyLength) }
            let signature = try decodingField("signature") { () throws(WireError) in
                try reader.readBytes(count: AccessToken.signatureLength)
            }
            guard reader.remaining == 0 else { throw AdmissionError("\(reader.remaining) bytes after the signature") }
            let contents = Contents(runName: runName, sequence: sequence, issuedAt: WallClockInstant(millisecondsSinceEpoch: issuedAt),
                                    revokedKeys: keys)
            try contents.validate()
            self.contents = contents
            self.issuerPublicKey = issuer
            self.signature = signature
        } catch {
            throw error.prefixed("revocation list")
        }
    }

    /// The binary form.
    public var encoded: [UInt8] {
        Self.body(contents, issuer: issuerPublicKey) + signature
    }

    /// Whether `signature` is `issuerPublicKey`'s signature over the list.
    public var hasValidSignature: Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: issuerPublicKey) else { return false }
        return key.isValidSignature(signature, for: Self.signedBytes(body: Self.body(contents, issuer: issuerPublicKey)))
    }

    /// The contents of the next list: these keys added, the sequence one higher.
    public func contentsRevoking(_ keys: [[UInt8]], at now: WallClockInstant) -> Contents {
        let all = Set(contents.revokedKeys).union(keys)
        return Contents(runName: contents.runName, sequence: contents.sequence + 1, issuedAt: now,
                        revokedKeys: all.sorted { $0.lexicographicallyPrecedes($1) })
    }

    private static func body(_ contents: Contents, issuer: [UInt8]) -> [UInt8] {
        var writer = ByteWriter(reservingCapacity: 128 + contents.revokedKeys.count * AccessToken.keyLength)
        writer.write(version)
        writer.writeWithU8Length(Array(contents.runName.utf8))
        writer.write(contents.sequence)
        writer.write(contents.issuedAt.millisecondsSinceEpoch)
        writer.write(UInt16(contents.revokedKeys.count))
        for key in contents.revokedKeys { writer.write(raw: key) }
        writer.write(raw: issuer)
        return writer.bytes
    }

    private static func signedBytes(body: [UInt8]) -> [UInt8] {
        [UInt8(signingDomain.count)] + signingDomain + body
    }
}
