import Averaging
import Collaboration
import DHT
import Logging
import NIOCore
import Node
import Wire

/// Downloads a training state from several donors at once (`StateDownload` driven over the
/// transport), every chunk checked against the digests the announced hash covers; a donor
/// that sends a wrong manifest or chunk is dropped and reported as an offence.
public struct StateFetcher: Sendable {
    let transport: Transport
    let logger: Logger

    public init(transport: Transport, logger: Logger) {
        self.transport = transport
        self.logger = logger
    }

    public func download(step: Int, hash: [UInt8], byteCount: Int, donors: [(DHTID, Endpoint)]) async throws -> [UInt8] {
        logger.info("downloading state", metadata: ["step": "\(step)", "donors": "\(donors.count)", "bytes": "\(byteCount)"])
        var endpoints: [Averaging.PeerID: (DHTID, Endpoint)] = [:]
        for (id, endpoint) in donors { endpoints[Averaging.PeerID(bytes: id.bytes)!] = (id, endpoint) }
        var download = StateDownload(step: step, stateHash: hash, totalBytes: byteCount, donors: endpoints.keys.sorted())
        var actions = download.start(now: PeerServices.now())
        var reportedTenth = 0
        while true {
            var requests: [Ask] = []
            for action in actions {
                switch action {
                case .requestManifest(let donor): requests.append(.manifest(from: donor))
                case .request(let chunk, let range, let donor): requests.append(.chunk(chunk, range, from: donor))
                case .report(let donor, let offence):
                    guard let (peerID, _) = endpoints[donor] else { continue }
                    logger.warning("dropping a state donor", metadata: ["peer.id": "\(peerID)", "reason": "\(offence)"])
                    transport.reportOffence(offence, by: peerID)
                case .progress(let received, let total):
                    let tenth = 10 * received / total
                    if tenth > reportedTenth {
                        reportedTenth = tenth
                        let bar = String(repeating: "#", count: tenth) + String(repeating: ".", count: 10 - tenth)
                        logger.info("state download [\(bar)] \(10 * tenth)% of \(String(format: "%.1f", Double(total) / 1e6)) MB from \(endpoints.count) peer(s)")
                    }
                case .completed: return download.state
                case .failed(let reason): throw PeerError("state download failed: \(reason)")
                case .wake: break
                }
            }
            actions = []
            for (donor, reply) in await fetch(requests, step: step, hash: hash, endpoints: endpoints) {
                switch reply {
                case .manifest(let digests): actions += download.onManifest(digests, from: donor, now: PeerServices.now())
                case .chunk(let chunk, let bytes): actions += download.onChunk(chunk, bytes: bytes, from: donor, now: PeerServices.now())
                case .failed: actions += download.onDonorFailed(donor, now: PeerServices.now())
                }
            }
        }
    }

    private enum Ask: Sendable {
        case manifest(from: Averaging.PeerID)
        case chunk(Int, Range<Int>, from: Averaging.PeerID)

        var donor: Averaging.PeerID {
            switch self {
            case .manifest(let donor), .chunk(_, _, let donor): donor
            }
        }

        func request(step: Int, hash: [UInt8]) -> (MessageType, [UInt8]) {
            switch self {
            case .manifest: (.stateManifestRequest, StateManifestRequest(step: step, stateHash: hash).encoded)
            case .chunk(_, let range, _):
                (.stateRequest, StateRequest(step: step, stateHash: hash, offset: range.lowerBound, length: range.count).encoded)
            }
        }

        /// What `frame` answers to this request; `failed` unless it is the reply asked for.
        func reply(in frame: Frame, step: Int) -> Reply {
            switch self {
            case .manifest:
                guard frame.type == .stateManifest, let manifest = try? StateManifestReply(decoding: frame.payload),
                      manifest.step == step else { return .failed }
                return .manifest(manifest.chunkDigests)
            case .chunk(let chunk, let range, _):
                guard frame.type == .stateChunk, let reply = try? StateChunk(decoding: frame.payload),
                      reply.step == step, reply.offset == range.lowerBound else { return .failed }
                return .chunk(chunk, reply.bytes)
            }
        }
    }

    private enum Reply: Sendable {
        case manifest([UInt8])
        case chunk(Int, ArraySlice<UInt8>)
        /// No reply, an `error` reply or one that does not answer the request.
        case failed
    }

    /// Runs one batch of requests concurrently.
    private func fetch(_ requests: [Ask], step: Int, hash: [UInt8],
                       endpoints: [Averaging.PeerID: (DHTID, Endpoint)]) async -> [(Averaging.PeerID, Reply)] {
        let transport = self.transport
        return await withTaskGroup(of: (Averaging.PeerID, Reply).self) { group in
            for ask in requests {
                guard let (peerID, endpoint) = endpoints[ask.donor] else { continue }
                let (type, payload) = ask.request(step: step, hash: hash)
                group.addTask {
                    let frame = try? await transport.request(type, payload: payload, to: endpoint, expecting: peerID,
                                                             timeout: .seconds(20)).get().frame
                    return (ask.donor, frame.map { ask.reply(in: $0, step: step) } ?? .failed)
                }
            }
            var collected: [(Averaging.PeerID, Reply)] = []
            for await result in group { collected.append(result) }
            return collected
        }
    }
}
