import CohortBase
import Crypto
import Wire

/// A run's permission for one volunteer key to take part: the run's key signs the run name,
/// the volunteer's Ed25519 public key, a name for people, and a validity period.
///
/// The token is no secret: it names a public key, and only the holder of the matching private
/// key can prove that key in the handshake. Layout (docs/protocol.md, "Access tokens"):
///
///     u8 version (1) · bytes8 run name · peer public key (32) · bytes8 name · u64 serial
///     · u64 issued at (ms) · u64 expiry (ms) · issuer public key (32) · signature (64)
///
/// The signature is the issuer's Ed25519 signature over `u8 22 · "cohort-access-token-v1"`
/// followed by every byte before the signature.
public struct AccessToken: Hashable, Sendable {
    /// What the run's key vouches for.
    public struct Claims: Hashable, Sendable {
        /// The run the token admits to.
        public var runName: String
        /// The volunteer's raw 32-byte Ed25519 public key.
        public var peerPublicKey: [UInt8]
        /// Who the volunteer is, for the operator's logs (1–64 bytes of UTF-8).
        public var name: String
        /// Tells tokens apart in logs; chosen at random when issued.
        public var serial: UInt64
        /// When the token was issued (informational).
        public var issuedAt: WallClockInstant
        /// From when the token no longer admits.
        public var expiresAt: WallClockInstant

        public init(runName: String, peerPublicKey: [UInt8], name: String, serial: UInt64, issuedAt: WallClockInstant,
                    expiresAt: WallClockInstant) {
            self.runName = runName
            self.peerPublicKey = peerPublicKey
            self.name = name
            self.serial = serial
            self.issuedAt = issuedAt
            self.expiresAt = expiresAt
        }

        /// Throws unless every field is within its bounds.
        public func validate() throws(AdmissionError) {
            try AdmissionText.validate(runName, what: "run name")
            try AdmissionText.validate(name, what: "name")
            guard peerPublicKey.count == AccessToken.keyLength else {
                throw AdmissionError("peer key is \(peerPublicKey.count) bytes, not \(AccessToken.keyLength)")
            }
            guard expiresAt > issuedAt else { throw AdmissionError("expiry is not after the time of issue") }
        }
    }

    public static let version: UInt8 = 1
    static let keyLength = 32
    static let signatureLength = 64
    static let signingDomain: [UInt8] = Array("cohort-access-token-v1".utf8)
    /// The tag of the one-line text form.
    public static let textTag = "cohort-access-token-v1"
    /// The longest encoding: both texts at their 64-byte maximum.
    public static let maxEncodedLength = 1 + (1 + 64) + keyLength + (1 + 64) + 3 * 8 + keyLength + signatureLength

    public let claims: Claims
    /// The raw Ed25519 public key that signed the token; a verifier compares it with the run's.
    public let issuerPublicKey: [UInt8]
    public let signature: [UInt8]

    /// Validates `claims` and signs them with the run's key.
    public init(signing claims: Claims, with runKey: Curve25519.Signing.PrivateKey) throws(AdmissionError) {
        do throws(AdmissionError) {
            try claims.validate()
        } catch {
            throw error.prefixed("access token")
        }
        self.claims = claims
        issuerPublicKey = Array(runKey.publicKey.rawRepresentation)
        let signed = Self.signedBytes(body: Self.body(claims: claims, issuer: issuerPublicKey))
        guard let signature = try? runKey.signature(for: signed) else {
            preconditionFailure("Ed25519 signing does not fail for a valid key")
        }
        self.signature = Array(signature)
    }

    /// Decodes the binary form, refusing anything out of bounds or left over. The signature is
    /// not checked here (`hasValidSignature`, `AdmissionRules.admit`).
    public init(decoding bytes: [UInt8]) throws(AdmissionError) {
        do throws(AdmissionError) {
            guard bytes.count <= Self.maxEncodedLength else {
                throw AdmissionError("\(bytes.count) bytes, more than the \(Self.maxEncodedLength) of any token")
            }
            var reader = ByteReader(bytes)
            let version = try decodingField("version") { () throws(WireError) in try reader.readU8() }
            guard version == Self.version else { throw AdmissionError("version \(version), expected \(Self.version)") }
            let runName = try AdmissionText.decode(
                try decodingField("run name") { () throws(WireError) in try reader.readU8LengthPrefixed(maxLength: AdmissionText.maxBytes) },
                what: "run name")
            let peerKey = try decodingField("peer key") { () throws(WireError) in try reader.readBytes(count: Self.keyLength) }
            let name = try AdmissionText.decode(
                try decodingField("name") { () throws(WireError) in try reader.readU8LengthPrefixed(maxLength: AdmissionText.maxBytes) },
                what: "name")
            let (serial, issuedAt, expiry) = try decodingField("serial and validity") { () throws(WireError) in
                (try reader.readU64(), try reader.readU64(), try reader.readU64())
            }
            let issuer = try decodingField("issuer key") { () throws(WireError) in try reader.readBytes(count: Self.keyLength) }
            let signature = try decodingField("signature") { () throws(WireError) in try reader.readBytes(count: Self.signatureLength) }
            guard reader.remaining == 0 else { throw AdmissionError("\(reader.remaining) bytes after the signature") }
            let claims = Claims(runName: runName, peerPublicKey: peerKey, name: name, serial: serial,
                                issuedAt: WallClockInstant(millisecondsSinceEpoch: issuedAt),
                                expiresAt: WallClockInstant(millisecondsSinceEpoch: expiry))
            try claims.validate()
            self.claims = claims
            self.issuerPublicKey = issuer
            self.signature = signature
        } catch {
            throw error.prefixed("access token")
        }
    }

    /// The binary form.
    public var encoded: [UInt8] {
        Self.body(claims: claims, issuer: issuerPublicKey) + signature
    }

    /// Whether `signature` is `issuerPublicKey`'s signature over the token.
    public var hasValidSignature: Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: issuerPublicKey) else { return false }
        return key.isValidSignature(signature, for: Self.signedBytes(body: Self.body(claims: claims, issuer: issuerPublicKey)))
    }

    private static func body(claims: Claims, issuer: [UInt8]) -> [UInt8] {
        var writer = ByteWriter(reservingCapacity: maxEncodedLength)
        writer.write(version)
        writer.writeWithU8Length(Array(claims.runName.utf8))
        writer.write(raw: claims.peerPublicKey)
        writer.writeWithU8Length(Array(claims.name.utf8))
        writer.write(claims.serial)
        writer.write(claims.issuedAt.millisecondsSinceEpoch)
        writer.write(claims.expiresAt.millisecondsSinceEpoch)
        writer.write(raw: issuer)
        return writer.bytes
    }

    private static func signedBytes(body: [UInt8]) -> [UInt8] {
        [UInt8(signingDomain.count)] + signingDomain + body
    }
}
