import CohortBase
import Collaboration
import DHT
import Foundation
import Node
import Wire

/// The `unread-replies` attack on one honest peer: a connection that completes the handshake as
/// the attack's identity, then sends `stateRequest`s for the peer's whole newest state, batch
/// after batch, and never reads a byte of the replies. A thread per connection does the
/// sending, so that a peer that stops reading it (as it must) blocks only that thread.
final class UnreadReplies: @unchecked Sendable {
    /// Requests sealed into one record: 512 of 72 bytes stay under the record's 64 KiB.
    static let requestsPerRecord = 512
    /// The most bytes one `stateRequest` may ask for (`StateRequest.maxLength`).
    static let largestRequest = 8 << 20

    private let descriptor: Int32
    private let lock = NSLock()
    private var target: (step: Int, hash: [UInt8])
    private var requestedBytes = 0
    private var stopped = false
    private let stateBytes: Int

    /// Connects to `peer` at `endpoint` and completes the handshake as `identity`.
    init(identity: PeerIdentity, peer: PeerID, endpoint: Endpoint, step: Int, hash: [UInt8], stateBytes: Int) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = endpoint.port.bigEndian
        address.sin_addr.s_addr = inet_addr(endpoint.host)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        target = (step, hash)
        self.stateBytes = min(stateBytes, Self.largestRequest)
        guard connected == 0 else {
            close(descriptor)
            throw AttackerError("unread-replies: cannot connect to \(endpoint)")
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        sealer = try handshake(as: identity, expecting: peer)
    }

    private var sealer: RecordSealer?

    /// Reply bytes asked for whose requests the socket took.
    var requested: Int { lock.withLock { requestedBytes } }

    /// Asks for the state `hash` of `step` from now on (the peer keeps only its newest two).
    func aim(step: Int, hash: [UInt8]) {
        lock.withLock { target = (step, hash) }
    }

    /// Starts sending on a thread of its own, until `stop`.
    func start() {
        Thread.detachNewThread { [self] in
            var requestID: UInt64 = 0
            while !lock.withLock({ stopped }) {
                let (step, hash) = lock.withLock { target }
                var plaintext: [UInt8] = []
                for _ in 0..<Self.requestsPerRecord {
                    requestID += 1
                    plaintext += Frame(type: .stateRequest, requestID: requestID, payload: Self.stateRequest(step: step, hash: hash,
                                                                                                          length: stateBytes)).encoded()
                }
                guard let record = try? sealer!.seal(plaintext), sendAll(record) else { return }
                lock.withLock { requestedBytes += Self.requestsPerRecord * stateBytes }
            }
        }
    }

    /// Stops sending and closes the connection; a thread blocked in `send` wakes with an error.
    func stop() {
        lock.withLock { stopped = true }
        shutdown(descriptor, Int32(SHUT_RDWR))
        close(descriptor)
    }

    /// A `stateRequest` payload for bytes 0..<length of the state: step, state hash, offset, length.
    static func stateRequest(step: Int, hash: [UInt8], length: Int) -> [UInt8] {
        var writer = ByteWriter(reservingCapacity: 52)
        writer.write(UInt64(step))
        writer.write(raw: hash)
        writer.write(UInt64(0))
        writer.write(UInt32(length))
        return writer.bytes
    }

    private func sendAll(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    private func handshake(as identity: PeerIdentity, expecting peer: PeerID) throws -> RecordSealer {
        var handshake = Handshake(role: .initiator(expecting: peer), identity: identity)
        var actions = handshake.start()
        while true {
            for action in actions {
                switch action {
                case .send(let bytes):
                    guard sendAll(bytes) else { throw AttackerError("unread-replies: the handshake's send failed") }
                case .established(let keys, _):
                    return RecordSealer(key: keys.sendKey)
                case .failed(let error):
                    throw AttackerError("unread-replies: handshake failed: \(error)")
                }
            }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let received = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard received > 0 else { throw AttackerError("unread-replies: the peer closed the handshake") }
            actions = handshake.onBytes(buffer.prefix(received), now: SystemClock().now().wall)
        }
    }
}

/// The `unread-replies` identity: one connection that never reads to every honest peer that
/// announced a state, each asking for that peer's newest state.
final class UnreadRepliesNode: @unchecked Sendable {
    private let node: HostileNode
    private let lock = NSLock()
    private var connections: [PeerID: UnreadReplies] = [:]

    init(node: HostileNode) {
        self.node = node
    }

    var connectionCount: Int { lock.withLock { connections.count } }
    var requestedBytes: Int { lock.withLock { connections.values.map(\.requested).reduce(0, +) } }

    /// Opens a connection to each honest peer not attacked yet, and aims every one at its
    /// peer's newest state.
    func aim(at honest: [(PeerID, StateAnnouncement)], stateBytes: Int) {
        for (peer, announcement) in honest where announcement.port != 0 {
            if let open = lock.withLock({ connections[peer] }) {
                open.aim(step: announcement.step, hash: announcement.stateHash)
                continue
            }
            guard let connection = try? UnreadReplies(
                identity: node.service.transport.identity, peer: peer, endpoint: Endpoint(host: announcement.host, port: announcement.port),
                step: announcement.step, hash: announcement.stateHash, stateBytes: stateBytes) else { continue }
            connection.start()
            lock.withLock { connections[peer] = connection }
        }
    }

    func stop() {
        for connection in lock.withLock({ Array(connections.values) }) { connection.stop() }
    }
}
