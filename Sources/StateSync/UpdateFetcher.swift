import CohortBase
import Collaboration
import DHT
import Logging
import NIOCore
import Node
import Wire

/// Fetches a chain of updates for a replay (docs/protocol.md, "Update replay"): the chain's
/// headers from the first donor that has it, then each update's gradient in chunks of
/// `chunkElements`, shared among several donors, `requestsInFlight` at a time from each.
///
/// A donor whose reply is malformed or is not what was asked (another chain, another range,
/// a byte count other than four per element) is reported as an offence: an honest donor
/// answers with exactly what it was asked for, or with an `error`. Whether the gradient it
/// sends gives the states it claims is for the caller to find out by applying it.
public struct UpdateFetcher: Sendable {
    public typealias Donor = (peer: PeerID, endpoint: Endpoint)

    /// Chunks of 1 MiB, as state downloads take.
    static let chunkElements = StateManifest.chunkBytes / 4
    static let requestsInFlight = 2
    /// Donors asked for the chain before the replay gives up (each costs a round trip).
    static let donorsTried = 3
    /// Donors a gradient is fetched from at once.
    static let donorsShared = 4

    let transport: Transport
    let logger: Logger
    var requestTimeout: Duration = .seconds(10)

    public init(transport: Transport, logger: Logger) {
        self.transport = transport
        self.logger = logger
    }

    /// The chain `ask` names over `elementCount` elements, from the first of `donors` that
    /// sends it, and that donor.
    public func chain(_ ask: UpdatesRequest, elementCount: Int, donors: [Donor]) async throws(PeerError) -> (Donor, UpdateChain) {
        var refusals: [String] = []
        for donor in donors.prefix(Self.donorsTried) {
            switch await chain(ask, elementCount: elementCount, from: donor) {
            case .success(let chain): return (donor, chain)
            case .failure(let error): refusals.append("\(donor.peer): \(error)")
            }
        }
        throw PeerError("no donor sent the updates from step \(ask.fromStep) to step \(ask.toStep) (\(refusals.joined(separator: "; ")))")
    }

    /// The chain `ask` names and the donors to fetch its gradients from: the one that sent it
    /// (`chain`), then those of the other donors that keep the same chain (`donorsKeeping`).
    public func chainAndItsDonors(_ ask: UpdatesRequest, elementCount: Int,
                                  donors: [Donor]) async throws(PeerError) -> (chain: UpdateChain, donors: [Donor]) {
        let (sender, chain) = try await chain(ask, elementCount: elementCount, donors: donors)
        let others = donors.filter { $0.peer != sender.peer }
        return (chain, [sender] + (await donorsKeeping(chain, ask, elementCount: elementCount, among: others)))
    }

    /// Those of `donors` (up to `donorsShared` - 1, asked at once) that keep the same `chain`:
    /// a gradient is shared only among donors whose logs lead through the same states, since a
    /// peer may still keep another update from the same state (one it took in a group whose
    /// state lost the election, before it downloaded the elected one).
    public func donorsKeeping(_ chain: UpdateChain, _ ask: UpdatesRequest, elementCount: Int, among donors: [Donor]) async -> [Donor] {
        await withTaskGroup(of: (Int, Bool).self) { group in
            for (index, donor) in donors.prefix(Self.donorsShared - 1).enumerated() {
                group.addTask {
                    guard case .success(let theirs) = await self.chain(ask, elementCount: elementCount, from: donor) else { return (index, false) }
                    return (index, theirs == chain)
                }
            }
            var keeping: [Int] = []
            for await (index, same) in group where same { keeping.append(index) }
            return keeping.sorted().map { donors[$0] }
        }
    }

    private func chain(_ ask: UpdatesRequest, elementCount: Int, from donor: Donor) async -> Result<UpdateChain, PeerError> {
        do throws(PeerError) {
            let frame = try await request(.updatesRequest, ask.encoded, expecting: .updates, from: donor)
            let headers: [UpdateHeader]
            do {
                headers = try UpdatesReply.decode(frame.payload)
            } catch {
                throw report(donor, Offence(.protocolViolation, "malformed updates reply: \(error)"))
            }
            do {
                return .success(try UpdateChain(headers: headers, fromStep: ask.fromStep, fromHash: ask.fromHash, toStep: ask.toStep,
                                                 toHash: ask.toHash, elementCount: elementCount))
            } catch {
                throw report(donor, Offence(.falseClaim, "a chain of updates other than the one asked for: \(error)"))
            }
        } catch {
            return .failure(error)
        }
    }

    /// Fetches the gradient of `header` into `destination` (`header.elementCount` elements; the
    /// skipped ones are left as they are)
    /// from up to `donorsShared` of `donors` at once, `requestsInFlight` chunks each, so a
    /// replay takes the donors' summed uploads as a state download does. Members of one round
    /// keep the same gradient, so the chunk of any donor keeping the same chain (`donorsKeeping`)
    /// is as good as another's; a donor that fails a chunk (it does not hold the update, it is
    /// slow, it sends a malformed chunk) is given no more and its chunk goes to another. Fails
    /// when no donor is left.
    public func gradients(of header: UpdateHeader, from donors: [Donor],
                          into destination: UnsafeMutableBufferPointer<Float>) async throws(PeerError) {
        precondition(destination.count == header.elementCount, "a gradient of \(header.elementCount) elements into \(destination.count)")
        precondition(!donors.isEmpty, "a gradient from no donor")
        let requests = Self.appliedRanges(of: header).flatMap { applied in
            stride(from: applied.lowerBound, to: applied.upperBound, by: Self.chunkElements).map {
                UpdateChunkRequest(fromStep: header.fromStep, hashBefore: header.hashBefore, firstElement: $0,
                                   elementCount: min(Self.chunkElements, applied.upperBound - $0))
            }
        }
        let sharing = Array(donors.prefix(Self.donorsShared).enumerated())
        typealias Answer = (donor: Int, ask: UpdateChunkRequest, result: Result<UpdateChunk, PeerError>)
        let outcome: Result<Void, PeerError> = await withTaskGroup(of: Answer.self) { group in
            var pending = requests[...]
            var inFlight = [Int](repeating: 0, count: sharing.count)
            var dropped = Set<Int>()
            var failures: [String] = []
            // One chunk per donor in turn, so a short gradient is shared too.
            func fill() {
                var assigned = true
                while assigned, !pending.isEmpty {
                    assigned = false
                    for (slot, donor) in sharing where !dropped.contains(slot) && inFlight[slot] < Self.requestsInFlight {
                        guard let next = pending.popFirst() else { return }
                        inFlight[slot] += 1
                        assigned = true
                        group.addTask { (slot, next, await self.chunk(next, from: donor)) }
                    }
                }
            }
            fill()
            while let answer = await group.next() {
                inFlight[answer.donor] -= 1
                switch answer.result {
                case .success(let chunk):
                    chunk.copyValues(into: UnsafeMutableBufferPointer(rebasing: destination[answer.ask.elements]))
                case .failure(let error):
                    if dropped.insert(answer.donor).inserted { failures.append("\(sharing[answer.donor].element.peer): \(error)") }
                    pending.append(answer.ask)
                    if dropped.count == sharing.count {
                        group.cancelAll()
                        return .failure(PeerError("no donor sent the update from step \(header.fromStep) (\(failures.joined(separator: "; ")))"))
                    }
                }
                fill()
            }
            return .success(())
        }
        try outcome.get()
    }

    /// The elements `header`'s update changed: only those are fetched (a streaming round's
    /// update is one fragment of the vector, and a failed part is not read either).
    static func appliedRanges(of header: UpdateHeader) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        for skipped in header.skipped {
            if skipped.lowerBound > start { ranges.append(start..<skipped.lowerBound) }
            start = max(start, skipped.upperBound)
        }
        if start < header.elementCount { ranges.append(start..<header.elementCount) }
        return ranges
    }

    private func chunk(_ ask: UpdateChunkRequest, from donor: Donor) async -> Result<UpdateChunk, PeerError> {
        do throws(PeerError) {
            let frame = try await request(.updateChunkRequest, ask.encoded, expecting: .updateChunk, from: donor)
            guard let chunk = try? UpdateChunk(decoding: frame.payload) else {
                throw report(donor, Offence(.protocolViolation, "malformed update chunk"))
            }
            guard chunk.fromStep == ask.fromStep, chunk.firstElement == ask.firstElement, chunk.bytes.count == 4 * ask.elementCount else {
                throw report(donor, Offence(.falseClaim, "an update chunk other than the one asked for"))
            }
            return .success(chunk)
        } catch {
            return .failure(error)
        }
    }

    /// The reply of type `expected` to a request; throws on no reply, an `error` reply (its
    /// reason) and, reported as an offence, a reply of another type.
    private func request(_ type: MessageType, _ payload: [UInt8], expecting expected: MessageType,
                         from donor: Donor) async throws(PeerError) -> Frame {
        guard let reply = await transport.request(type, payload: payload, to: donor.endpoint, expecting: donor.peer,
                                                  timeout: TimeAmount(requestTimeout)).valueUnlessCancelled() else {
            throw PeerError("no reply within \(requestTimeout)")
        }
        if case .error(let refusal) = try? DHTMessage(frame: reply.frame) { throw PeerError(refusal.message) }
        guard reply.frame.type == expected else {
            throw report(donor, Offence(.protocolViolation, "a \(reply.frame.type) reply to \(type)"))
        }
        return reply.frame
    }

    private func report(_ donor: Donor, _ offence: Offence) -> PeerError {
        logger.warning("dropping an update donor", metadata: ["peer.id": "\(donor.peer)", "reason": "\(offence)"])
        transport.reportOffence(offence, by: donor.peer)
        return PeerError("\(offence)")
    }
}
