import Averaging
import Collaboration
import DHT
import Logging
import NIOCore
import Node
import Wire

/// Downloads a training state from several donors at once (`StateDownload` driven over the
/// transport) and checks it against the hash the donors announced.
public struct StateFetcher: Sendable {
    let transport: Transport
    let logger: Logger

    public init(transport: Transport, logger: Logger) {
        self.transport = transport
        self.logger = logger
    }

    public func download(step: Int, hash: [UInt8], byteCount: Int, donors: [(DHTID, Endpoint)]) async throws -> [UInt8] {
        logger.info("downloading state", metadata: ["step": "\(step)", "donors": "\(donors.count)", "bytes": "\(byteCount)"])
        var buffer = [UInt8](repeating: 0, count: byteCount)
        var endpoints: [Averaging.PeerID: (DHTID, Endpoint)] = [:]
        for (id, endpoint) in donors { endpoints[Averaging.PeerID(bytes: id.bytes)!] = (id, endpoint) }
        var download = StateDownload(totalBytes: byteCount, donors: endpoints.keys.sorted())
        var actions = download.start(now: PeerServices.now())
        var reportedTenth = 0
        while true {
            var requests: [(Int, Range<Int>, Averaging.PeerID)] = []
            for action in actions {
                switch action {
                case .request(let chunk, let range, let donor): requests.append((chunk, range, donor))
                case .progress(let received, let total):
                    let tenth = 10 * received / total
                    if tenth > reportedTenth {
                        reportedTenth = tenth
                        let bar = String(repeating: "#", count: tenth) + String(repeating: ".", count: 10 - tenth)
                        logger.info("state download [\(bar)] \(10 * tenth)% of \(String(format: "%.1f", Double(total) / 1e6)) MB from \(endpoints.count) peer(s)")
                    }
                case .completed:
                    guard StateSnapshot.hash(step: step, bytes: buffer) == hash else {
                        throw PeerError("downloaded state of step \(step) does not match the hash its donors announced")
                    }
                    return buffer
                case .failed(let reason): throw PeerError("state download failed: \(reason)")
                case .wake: break
                }
            }
            actions = []
            let results = await fetch(requests, step: step, endpoints: endpoints)
            for (chunk, donor, bytes) in results {
                if let bytes, bytes.count == download.byteRange(ofChunk: chunk).count {
                    buffer.replaceSubrange(download.byteRange(ofChunk: chunk), with: bytes)
                    actions += download.onChunk(chunk, byteCount: bytes.count, from: donor, now: PeerServices.now())
                } else {
                    actions += download.onDonorFailed(donor, now: PeerServices.now())
                }
            }
        }
    }

    /// Runs one batch of chunk requests concurrently; a failed request yields nil bytes.
    private func fetch(_ requests: [(Int, Range<Int>, Averaging.PeerID)], step: Int,
                       endpoints: [Averaging.PeerID: (DHTID, Endpoint)]) async -> [(Int, Averaging.PeerID, [UInt8]?)] {
        let transport = self.transport
        return await withTaskGroup(of: (Int, Averaging.PeerID, [UInt8]?).self) { group in
            for (chunk, range, donor) in requests {
                guard let (peerID, endpoint) = endpoints[donor] else { continue }
                let payload = StateRequest(step: step, offset: range.lowerBound, length: range.count).encoded
                group.addTask {
                    let reply = try? await transport.request(.stateRequest, payload: payload, to: endpoint,
                                                             expecting: peerID, timeout: .seconds(20)).get()
                    guard let reply, reply.frame.type == .stateChunk, let chunkReply = try? StateChunk(decoding: reply.frame.payload),
                          chunkReply.step == step, chunkReply.offset == range.lowerBound else { return (chunk, donor, nil) }
                    return (chunk, donor, Array(chunkReply.bytes))
                }
            }
            var collected: [(Int, Averaging.PeerID, [UInt8]?)] = []
            for await result in group { collected.append(result) }
            return collected
        }
    }
}
