import DHT
import Foundation
@testable import Node
import Testing

/// A plain blocking TCP client for sending bytes a well-behaved peer never would.
struct RawClient {
    let descriptor: Int32

    init(port: UInt16) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0, "connect to 127.0.0.1:\(port) failed")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Foundation.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Up to `count` bytes; empty when the peer closed, nil on timeout or error.
    func receive(upTo count: Int = 4096) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        let received = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, count, 0) }
        return received < 0 ? nil : Array(buffer.prefix(received))
    }

    /// Whether the peer closed the connection within the receive timeout (reading and dropping data).
    func closedByPeer() -> Bool {
        while let bytes = receive() {
            if bytes.isEmpty { return true }
        }
        return false
    }

    func close() {
        _ = Foundation.close(descriptor)
    }
}

extension RawClient {
    /// Completes the handshake as `identity` over the raw socket and returns the sealer for
    /// what follows.
    func handshake(with server: PeerID, as identity: PeerIdentity = identity(999)) throws -> RecordSealer {
        var handshake = Handshake(role: .initiator(expecting: server), identity: identity)
        send(HandshakePair.sent(handshake.start()))
        while let bytes = receive(), !bytes.isEmpty {
            for action in handshake.onBytes(bytes, now: 0) {
                switch action {
                case .send(let reply): send(reply)
                case .established(let keys, _): return RecordSealer(key: keys.sendKey)
                case .failed(let error): throw error
                }
            }
        }
        throw HandshakeError.closedEarly
    }
}
