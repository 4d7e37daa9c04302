import Admission
import Wire

/// The five messages of the Cohort handshake and their byte layout (docs/protocol.md,
/// "Handshake").
///
///     offset  size  field
///     0       4     magic "CHRH" (0x43 0x48 0x52 0x48)
///     4       1     handshake version (4)
///     5       1     kind: 1 initiator hello, 2 responder proof, 3 initiator proof, 4 refusal,
///                   5 admitted
///     6       2     body length, little-endian; within the kind's bounds
///     8       n     body
///
/// Bodies: hello = ephemeral X25519 key (32) ‖ Ed25519 identity key (32) ‖ token; responder
/// proof = ephemeral (32) ‖ identity (32) ‖ signature (64) ‖ token; initiator proof =
/// signature (64); refusal = reason (1); admitted = empty. A token is a u16 length and at most 512 bytes of
/// access token, length 0 when the sender presents none.
enum HandshakeMessage: Equatable, Sendable {
    case initiatorHello(ephemeral: [UInt8], identity: [UInt8], token: [UInt8])
    case responderProof(ephemeral: [UInt8], identity: [UInt8], signature: [UInt8], token: [UInt8])
    case initiatorProof(signature: [UInt8])
    case refusal(AdmissionRefusal.Reason)
    /// The responder admits the initiator, whose key its proof has just proven.
    case admitted

    static let magic: [UInt8] = Array("CHRH".utf8)
    static let version: UInt8 = 4
    static let headerLength = 8
    /// Token bytes one message carries at most; room to spare over `AccessToken.maxEncodedLength`.
    static let maxTokenLength = 512
    /// No handshake message is longer than this; a larger announcement is refused at once.
    static let maxLength = headerLength + Kind.responderProof.fixedLength + 2 + maxTokenLength

    enum Kind: UInt8, Sendable {
        case initiatorHello = 1, responderProof = 2, initiatorProof = 3, refusal = 4, admitted = 5

        /// Body bytes before the token, or the whole body for kinds without one.
        var fixedLength: Int {
            switch self {
            case .initiatorHello: 64
            case .responderProof: 128
            case .initiatorProof: 64
            case .refusal: 1
            case .admitted: 0
            }
        }

        var carriesToken: Bool { self == .initiatorHello || self == .responderProof }

        var bodyLengths: ClosedRange<Int> {
            carriesToken ? fixedLength + 2 ... fixedLength + 2 + maxTokenLength : fixedLength ... fixedLength
        }
    }

    var kind: Kind {
        switch self {
        case .initiatorHello: .initiatorHello
        case .responderProof: .responderProof
        case .initiatorProof: .initiatorProof
        case .refusal: .refusal
        case .admitted: .admitted
        }
    }

    func encoded() -> [UInt8] {
        var body = ByteWriter(reservingCapacity: Self.maxLength)
        switch self {
        case .initiatorHello(let ephemeral, let identity, let token):
            body.write(raw: ephemeral)
            body.write(raw: identity)
            body.writeWithU16Length(token)
        case .responderProof(let ephemeral, let identity, let signature, let token):
            body.write(raw: ephemeral)
            body.write(raw: identity)
            body.write(raw: signature)
            body.writeWithU16Length(token)
        case .initiatorProof(let signature):
            body.write(raw: signature)
        case .refusal(let reason):
            body.write(reason.rawValue)
        case .admitted:
            break
        }
        precondition(kind.bodyLengths.contains(body.bytes.count), "\(self) has a field of the wrong length")
        var writer = ByteWriter(reservingCapacity: Self.headerLength + body.bytes.count)
        writer.write(raw: Self.magic)
        writer.write(Self.version)
        writer.write(kind.rawValue)
        writer.write(UInt16(body.bytes.count))
        writer.write(raw: body.bytes)
        return writer.bytes
    }

    /// Takes one message of `expected` kind, or a refusal in its place (which any message but
    /// the hello may be), from the front of `buffer`: nil while it is incomplete; throws as
    /// soon as the bytes present cannot start such a message.
    static func take(_ expected: Kind, from buffer: inout [UInt8]) throws(HandshakeError) -> HandshakeMessage? {
        for (offset, byte) in magic.enumerated() where offset < buffer.count && buffer[offset] != byte {
            throw .malformed("bad magic")
        }
        if buffer.count > 4 && buffer[4] != version { throw .malformed("handshake version \(buffer[4]), expected \(version)") }
        var kind = expected
        if buffer.count > 5 {
            let refusalAllowed = expected != .initiatorHello
            if buffer[5] == Kind.refusal.rawValue && refusalAllowed {
                kind = .refusal
            } else if buffer[5] != expected.rawValue {
                throw .malformed("message kind \(buffer[5]), expected \(expected.rawValue)")
            }
        }
        guard buffer.count >= headerLength else { return nil }
        let length = Int(buffer[6]) | Int(buffer[7]) << 8
        guard headerLength + length <= maxLength else { throw .oversized(length) }
        guard kind.bodyLengths.contains(length) else { throw .malformed("body of \(length) bytes for kind \(kind.rawValue)") }
        guard buffer.count >= headerLength + length else { return nil }
        let body = Array(buffer[headerLength..<headerLength + length])
        buffer.removeFirst(headerLength + length)
        return try decode(kind, body: body)
    }

    private static func decode(_ kind: Kind, body: [UInt8]) throws(HandshakeError) -> HandshakeMessage {
        var token: [UInt8] = []
        if kind.carriesToken {
            let tokenLength = Int(body[kind.fixedLength]) | Int(body[kind.fixedLength + 1]) << 8
            guard kind.fixedLength + 2 + tokenLength == body.count else {
                throw .malformed("token of \(tokenLength) bytes in a body of \(body.count)")
            }
            token = Array(body[(kind.fixedLength + 2)...])
        }
        switch kind {
        case .initiatorHello:
            return .initiatorHello(ephemeral: Array(body[0..<32]), identity: Array(body[32..<64]), token: token)
        case .responderProof:
            return .responderProof(ephemeral: Array(body[0..<32]), identity: Array(body[32..<64]),
                                   signature: Array(body[64..<128]), token: token)
        case .initiatorProof:
            return .initiatorProof(signature: body)
        case .refusal:
            return .refusal(AdmissionRefusal.Reason(rawValue: body[0]))
        case .admitted:
            return .admitted
        }
    }
}
