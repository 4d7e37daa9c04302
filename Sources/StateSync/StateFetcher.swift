import CohortBase
import Averaging
import Collaboration
import DHT
import Logging
import NIOCore
import Node
import Wire

/// Downloads a training state from several donors at once (`StateDownload` driven over the
/// transport by `StateDownloadDriver`), every chunk checked against the digests the announced
/// hash covers; a donor that sends a wrong manifest or chunk is dropped and reported as an
/// offence, one that stalls past `StateDownload.Settings.requestTimeout` is dropped.
public struct StateFetcher: Sendable {
    let transport: Transport
    let logger: Logger
    let settings: StateDownload.Settings

    public init(transport: Transport, logger: Logger, settings: StateDownload.Settings = StateDownload.Settings()) {
        self.transport = transport
        self.logger = logger
        self.settings = settings
    }

    public func download(step: Int, hash: [UInt8], byteCount: Int, donors: [(PeerID, Endpoint)]) async throws -> [UInt8] {
        try await download(step: step, hash: hash, byteCount: byteCount, donors: donors, clock: ContinuousClock())
    }

    /// The download on `clock`, which times the machine's deadlines.
    func download<C: Clock>(step: Int, hash: [UInt8], byteCount: Int, donors: [(PeerID, Endpoint)],
                            clock: C) async throws -> [UInt8] where C.Duration == Duration {
        logger.info("downloading state", metadata: ["step": "\(step)", "donors": "\(donors.count)", "bytes": "\(byteCount)"])
        var endpoints: [PeerID: (PeerID, Endpoint)] = [:]
        for (id, endpoint) in donors { endpoints[id] = (id, endpoint) }
        let download = StateDownload(step: step, stateHash: hash, totalBytes: byteCount, donors: endpoints.keys.sorted(),
                                     settings: settings)
        let driver = StateDownloadDriver(clock: clock) { [transport, endpoints, settings] request in
            guard let (peerID, endpoint) = endpoints[request.donor] else { return .failed }
            let (type, payload) = request.wireRequest(step: step, hash: hash)
            // The machine drops a donor at `requestTimeout`; the transport's own timeout only
            // frees the request slot, so it may be longer.
            let reply = await transport.request(type, payload: payload, to: endpoint, expecting: peerID,
                                                timeout: TimeAmount(settings.requestTimeout * 2)).valueUnlessCancelled()
            return reply.map { request.reply(in: $0.frame, step: step) } ?? .failed
        }
        var progress = ProgressLog(logger: logger, donorCount: endpoints.count)
        return try await driver.run(download) { action in
            switch action {
            case .report(let donor, let offence):
                guard let (peerID, _) = endpoints[donor] else { return }
                logger.warning("dropping a state donor", metadata: ["peer.id": "\(peerID)", "reason": "\(offence)"])
                transport.reportOffence(offence, by: peerID)
            case .progress(let received, let total): progress.onProgress(receivedBytes: received, totalBytes: total)
            default: break
            }
        }
    }

    /// Logs the download's progress at every tenth, as a bar.
    private struct ProgressLog {
        let logger: Logger
        let donorCount: Int
        var reportedTenth = 0

        mutating func onProgress(receivedBytes: Int, totalBytes: Int) {
            let tenth = 10 * receivedBytes / totalBytes
            guard tenth > reportedTenth else { return }
            reportedTenth = tenth
            let bar = String(repeating: "#", count: tenth) + String(repeating: ".", count: 10 - tenth)
            logger.info("state download [\(bar)] \(10 * tenth)% of \(String(format: "%.1f", Double(totalBytes) / 1e6)) MB from \(donorCount) peer(s)")
        }
    }
}

extension StateDownloadRequest {
    func wireRequest(step: Int, hash: [UInt8]) -> (MessageType, [UInt8]) {
        switch self {
        case .manifest: (.stateManifestRequest, StateManifestRequest(step: step, stateHash: hash).encoded)
        case .chunk(_, let range, _):
            (.stateRequest, StateRequest(step: step, stateHash: hash, offset: range.lowerBound, length: range.count).encoded)
        }
    }

    /// What `frame` answers to this request; `failed` unless it is the reply asked for.
    func reply(in frame: Frame, step: Int) -> StateDownloadReply {
        switch self {
        case .manifest:
            guard frame.type == .stateManifest, let manifest = try? StateManifestReply(decoding: frame.payload),
                  manifest.step == step else { return .failed }
            return .manifest(chunkDigests: manifest.chunkDigests)
        case .chunk(_, let range, _):
            guard frame.type == .stateChunk, let reply = try? StateChunk(decoding: frame.payload),
                  reply.step == step, reply.offset == range.lowerBound else { return .failed }
            return .chunk(reply.bytes)
        }
    }
}
