import CohortBase
import DHT
import Foundation
@testable import Node
import Wire

/// Input a well-behaved peer never sends, one case per way a node must refuse it, with the
/// line the node logs as it closes the connection. The in-process garbage tests and the live
/// peer test send the same bytes.
enum MalformedInput: CaseIterable {
    /// Bytes of another protocol from the first byte on.
    case foreignBytes
    /// Half a handshake hello, then silence: the handshake deadline must close it.
    case truncatedHandshake
    /// A hello whose header announces a body longer than any handshake message.
    case oversizedHandshake
    /// A handshake whose initiator proof carries a signature that does not verify.
    case wronglySignedHandshake
    /// After a valid handshake: a record that does not authenticate.
    case badRecord
    /// After a valid handshake: a record header announcing more than 64 KiB.
    case oversizedRecord
    /// After a valid handshake: a record whose plaintext is not a frame.
    case badFrame
    /// After a valid handshake: a frame header announcing a payload above the node's limit.
    case oversizedFrame
    /// After a valid handshake: a `findNode` request whose payload does not decode.
    case undecodablePayload
    /// After a valid handshake: a `store` of a record whose signature does not verify.
    case forgedRecord

    /// The log line (message, then a part of the reason) the node writes when it closes the connection.
    var logged: (message: String, reason: String) {
        switch self {
        case .foreignBytes: ("handshake failed", "malformed handshake message")
        case .truncatedHandshake: ("handshake failed", "handshake timed out")
        case .oversizedHandshake: ("handshake failed", "bytes is too long")
        case .wronglySignedHandshake: ("handshake failed", "transcript signature does not verify")
        case .badRecord: ("closing connection: bad encrypted record", "does not authenticate")
        case .oversizedRecord: ("closing connection: bad encrypted record", "out of bounds")
        case .badFrame: ("closing connection: bad frame", "WireError")
        case .oversizedFrame: ("closing connection: bad frame", "oversized")
        case .undecodablePayload: ("closing connection: bad request", "WireError")
        case .forgedRecord: ("closing connection: bad request", "signature does not verify")
        }
    }

    /// Sends the input over `client` to `server`, a node refusing frame payloads above
    /// `maxMessageBytes`, as the peer `identity`.
    func send(over client: RawClient, to server: PeerID?, maxMessageBytes: Int, as identity: PeerIdentity) throws {
        switch self {
        case .foreignBytes:
            client.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        case .truncatedHandshake:
            let hello = HandshakeMessage.initiatorHello(ephemeral: [UInt8](repeating: 9, count: 32), identity: identity.publicKey, token: [])
            client.send(Array(hello.encoded().prefix(HandshakeMessage.headerLength + 10)))
        case .oversizedHandshake:
            client.send(HandshakeMessage.magic + [HandshakeMessage.version, HandshakeMessage.Kind.initiatorHello.rawValue, 0xE8, 0x03])
        case .wronglySignedHandshake:
            _ = try? client.handshake(as: identity, expecting: server) { index, bytes in
                index == 1 ? Array(bytes.dropLast()) + [bytes.last! ^ 0x01] : bytes
            }
        case .badRecord:
            _ = try client.handshake(as: identity, expecting: server)
            client.send([20, 0, 0, 0] + [UInt8](repeating: 0xAB, count: 20))
        case .oversizedRecord:
            _ = try client.handshake(as: identity, expecting: server)
            let length = UInt32(SecureRecord.maxPlaintextLength + 17)
            client.send(withUnsafeBytes(of: length.littleEndian) { Array($0) })
        case .badFrame:
            var sealer = try client.handshake(as: identity, expecting: server)
            client.send(try sealer.seal(Array("not a frame at all, just words".utf8)))
        case .oversizedFrame:
            var sealer = try client.handshake(as: identity, expecting: server)
            let header = Frame(type: .store, requestID: 1, payload: []).encoded().prefix(16)
            let length = UInt32(maxMessageBytes + 1)
            client.send(try sealer.seal(Array(header) + withUnsafeBytes(of: length.littleEndian) { Array($0) }))
        case .undecodablePayload:
            var sealer = try client.handshake(as: identity, expecting: server)
            client.send(try sealer.seal(Frame(type: .findNode, requestID: 1, payload: [1, 2, 3]).encoded()))
        case .forgedRecord:
            var sealer = try client.handshake(as: identity, expecting: server)
            var record = identity.signRecord(key: RecordKey(hashing: "forged"), subkey: [1], value: [2],
                                             expiresAt: SystemClock().now().wall + .seconds(60))
            record.value = [3]
            client.send(try sealer.seal(DHTMessage.store(.init(sender: nil, records: [record])).frame(requestID: 1).encoded()))
        }
    }
}
