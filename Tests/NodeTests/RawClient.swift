import CohortBase
import Admission
import DHT
import Foundation
@testable import Node
import Testing

/// A plain blocking TCP client for sending bytes a well-behaved peer never would.
struct RawClient {
    let descriptor: Int32

    /// Connects to 127.0.0.1:`port`; receives and sends give up after `timeout` seconds.
    init(port: UInt16, timeout: Int = 5) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0, "connect to 127.0.0.1:\(port) failed")
        var receiveTimeout = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))
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

    /// Runs the initiator's handshake with `identity` presenting `token`, passing each message
    /// through `tamper` before it is sent (index 0: hello, 1: proof); returns the sealer for
    /// what follows.
    func handshake(as identity: PeerIdentity, presenting token: AccessToken? = nil, expecting server: PeerID?,
                   tamper: (Int, [UInt8]) -> [UInt8] = { $1 }) throws -> RecordSealer {
        var handshake = Handshake(role: .initiator(expecting: server), identity: identity, ownToken: token)
        var sent = 0
        func send(_ actions: [Handshake.Action]) throws -> RecordSealer? {
            for action in actions {
                switch action {
                case .send(let bytes):
                    self.send(tamper(sent, bytes))
                    sent += 1
                case .established(let keys, _): return RecordSealer(key: keys.sendKey)
                case .failed(let error): throw error
                }
            }
            return nil
        }
        _ = try send(handshake.start())
        while let bytes = receive(), !bytes.isEmpty {
            if let sealer = try send(handshake.onBytes(bytes, now: .epoch)) { return sealer }
        }
        throw HandshakeError.closedEarly
    }
}

extension RawClient {
    /// Completes the handshake as `identity` over the raw socket and returns the sealer for
    /// what follows.
    func handshake(with server: PeerID, as identity: PeerIdentity = identity(999)) throws -> RecordSealer {
        try handshake(as: identity, expecting: server)
    }
}
