import Wire

/// The three messages of the Cohort handshake and their byte layout (docs/protocol.md,
/// "Handshake").
///
///     offset  size  field
///     0       4     magic "CHRH" (0x43 0x48 0x52 0x48)
///     4       1     handshake version (1)
///     5       1     kind: 1 initiator hello, 2 responder proof, 3 initiator proof
///     6       2     body length, little-endian; must equal the kind's fixed length
///     8       n     body
///
/// Bodies: hello = ephemeral X25519 key (32) ‖ Ed25519 identity key (32); responder proof =
/// ephemeral (32) ‖ identity (32) ‖ signature (64); initiator proof = signature (64).
enum HandshakeMessage: Equatable, Sendable {
    case initiatorHello(ephemeral: [UInt8], identity: [UInt8])
    case responderProof(ephemeral: [UInt8], identity: [UInt8], signature: [UInt8])
    case initiatorProof(signature: [UInt8])

    static let magic: [UInt8] = Array("CHRH".utf8)
    static let version: UInt8 = 1
    static let headerLength = 8
    /// No handshake message is longer than this; a larger announcement is refused at once.
    static let maxLength = headerLength + 128

    enum Kind: UInt8, Sendable {
        case initiatorHello = 1, responderProof = 2, initiatorProof = 3

        var bodyLength: Int {
            switch self {
            case .initiatorHello: 64
            case .responderProof: 128
            case .initiatorProof: 64
            }
        }
    }

    var kind: Kind {
        switch self {
        case .initiatorHello: .initiatorHello
        case .responderProof: .responderProof
        case .initiatorProof: .initiatorProof
        }
    }

    func encoded() -> [UInt8] {
        var writer = ByteWriter(reservingCapacity: Self.maxLength)
        writer.write(raw: Self.magic)
        writer.write(Self.version)
        writer.write(kind.rawValue)
        writer.write(UInt16(kind.bodyLength))
        switch self {
        case .initiatorHello(let ephemeral, let identity):
            writer.write(raw: ephemeral)
            writer.write(raw: identity)
        case .responderProof(let ephemeral, let identity, let signature):
            writer.write(raw: ephemeral)
            writer.write(raw: identity)
            writer.write(raw: signature)
        case .initiatorProof(let signature):
            writer.write(raw: signature)
        }
        precondition(writer.bytes.count == Self.headerLength + kind.bodyLength, "\(self) has a field of the wrong length")
        return writer.bytes
    }

    /// Takes one message of `expected` kind from the front of `buffer`: nil while it is
    /// incomplete; throws as soon as the bytes present cannot start such a message.
    static func take(_ expected: Kind, from buffer: inout [UInt8]) throws(HandshakeError) -> HandshakeMessage? {
        for (offset, byte) in magic.enumerated() where offset < buffer.count && buffer[offset] != byte {
            throw .malformed("bad magic")
        }
        if buffer.count > 4 && buffer[4] != version { throw .malformed("handshake version \(buffer[4])") }
        if buffer.count > 5 && buffer[5] != expected.rawValue {
            throw .malformed("message kind \(buffer[5]), expected \(expected.rawValue)")
        }
        guard buffer.count >= headerLength else { return nil }
        let length = Int(buffer[6]) | Int(buffer[7]) << 8
        guard headerLength + length <= maxLength else { throw .oversized(length) }
        guard length == expected.bodyLength else { throw .malformed("body of \(length) bytes for kind \(expected.rawValue)") }
        guard buffer.count >= headerLength + length else { return nil }
        let body = Array(buffer[headerLength..<headerLength + length])
        buffer.removeFirst(headerLength + length)
        switch expected {
        case .initiatorHello:
            return .initiatorHello(ephemeral: Array(body[0..<32]), identity: Array(body[32..<64]))
        case .responderProof:
            return .responderProof(ephemeral: Array(body[0..<32]), identity: Array(body[32..<64]), signature: Array(body[64..<128]))
        case .initiatorProof:
            return .initiatorProof(signature: body)
        }
    }
}
