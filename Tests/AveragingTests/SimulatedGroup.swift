import CohortBase
import Testing
@testable import Averaging

/// One member of a simulated group: its vector (borrowed by its round) and its round.
final class SimulatedMember {
    let vector: UnsafeMutableBufferPointer<Float>
    let original: [Float]
    var round: AllReduceRound
    var result: AllReduceResult?
    var dropped: [PeerID] = []
    /// Dropped with proof (`.banPeer`): the shell bans these at once.
    var banned: [PeerID] = []

    init(plan: GroupPlan, index: Int, values: [Float], settings: AllReduceRound.Settings) {
        vector = .allocate(capacity: values.count)
        _ = vector.initialize(from: values)
        original = values
        round = AllReduceRound(plan: plan, peer: plan.members[index].peer, vector: vector, settings: settings, now: .zero)
    }

    deinit {
        vector.deallocate()
    }
}

/// All members' rounds wired through an in-memory network with virtual time. Messages travel
/// encoded (exercising the payload codecs), in order per pair of peers like TCP, in a seeded
/// random order across pairs. Time only moves when no message is in flight.
struct SimulatedGroup {
    enum Fault {
        /// Sends this many messages, then dies; its connections close after what it sent.
        case crash(afterSending: Int)
        /// Dies when it is about to send its first average.
        case crashBeforeFirstAverage
        /// Sends this many messages, then freezes: no more messages, no closed connections, and
        /// a check whether it is alive gets no answer.
        case stall(afterSending: Int)
        /// Sends this many messages, then dies without a connection closing (none was open to
        /// the others any more); a check whether it is alive finds it gone.
        case vanish(afterSending: Int)
        /// Owns its part honestly but sends every member `forge(average)` instead of the average.
        case forgeAverages(([Float]) -> [Float])
    }

    private enum Message {
        case part([UInt8])
        case averaged([UInt8])
        case skipped([UInt8])
        case closed
    }

    let plan: GroupPlan
    let members: [SimulatedMember]
    private let faults: [Int: Fault]
    private var random: SeededRandom
    private var queue: [(from: Int, to: Int, message: Message)] = []
    private var wakes: Set<MonotonicInstant> = []
    private var sentCount: [Int]
    private(set) var down: Set<Int> = []
    private(set) var now = MonotonicInstant.zero
    /// Chunks an owner accumulated: [sender, part, chunk].
    private(set) var contributions: Set<[Int]> = []
    private var knownFailed: [Set<Int>]
    /// Checks whether a sender is alive, as [checking owner, sender].
    private(set) var checksAlive: [[Int]] = []
    /// Owners that reduced their part and wait for its second stage (`partReduced`).
    private(set) var awaitingSecondStage: Set<Int> = []
    private var started = false

    /// Uncompressed averages are written into the members' vectors the way a same-host copy
    /// does (`averagedChunkDestination`, then `onAveragedChunkWritten`) where the round allows.
    private let averagesInPlace: Bool
    /// Averages written that way.
    private(set) var averagesWrittenInPlace = 0

    init(plan: GroupPlan, vectors: [[Float]], settings: AllReduceRound.Settings, faults: [Int: Fault] = [:], seed: UInt64,
         averagesInPlace: Bool = false) {
        self.plan = plan
        self.averagesInPlace = averagesInPlace
        members = vectors.indices.map { SimulatedMember(plan: plan, index: $0, values: vectors[$0], settings: settings) }
        self.faults = faults
        random = SeededRandom(seed: seed)
        sentCount = Array(repeating: 0, count: vectors.count)
        knownFailed = Array(repeating: [], count: vectors.count)
    }

    var live: [Int] { members.indices.filter { !down.contains($0) } }

    /// Runs until every live member finished, or until nothing moves but a second stage: then
    /// `resolveSecondStage` and `run` again.
    mutating func run() {
        if !started {
            started = true
            for index in members.indices {
                handle(members[index].round.start(), of: index)
            }
        }
        for _ in 0..<10_000 {
            while !queue.isEmpty {
                deliverOne()
            }
            if live.allSatisfy({ members[$0].result != nil }) || !awaitingSecondStage.isEmpty { return }
            guard let next = wakes.filter({ $0 > now }).min() else {
                Issue.record("round stuck at \(now) with no wake-up scheduled")
                return
            }
            now = next
            for index in live where members[index].result == nil {
                handle(members[index].round.onDeadline(now: now), of: index)
            }
        }
        Issue.record("round did not finish")
    }

    private mutating func deliverOne() {
        let picked = queue[Int.random(in: queue.indices, using: &random)]
        let position = queue.firstIndex { $0.from == picked.from && $0.to == picked.to }!
        let (from, to, message) = queue.remove(at: position)
        guard !down.contains(to) else { return }
        let sender = plan.members[from].peer
        switch message {
        case .part(let bytes):
            let chunk = try! PartChunk(decoding: bytes[...])
            if !knownFailed[to].contains(from) {
                contributions.insert([from, chunk.part, chunk.chunk])
            }
            handle(members[to].round.onPartChunk(chunk, now: now), of: to)
        case .averaged(let bytes):
            let averaged = try! AveragedChunk(decoding: bytes[...])
            if averagesInPlace, let destination = members[to].round.averagedChunkDestination(
                roundID: averaged.roundID, part: averaged.part, chunk: averaged.chunk, compression: averaged.compression,
                byteCount: averaged.bytes.count, from: sender) {
                // As a same-host copy does: the shell writes the average where the round says.
                averaged.bytes.withUnsafeBytes { destination.copyMemory(from: $0) }
                averagesWrittenInPlace += 1
                handle(members[to].round.onAveragedChunkWritten(part: averaged.part, chunk: averaged.chunk,
                                                                byteCount: averaged.bytes.count, from: sender, now: now), of: to)
            } else {
                handle(members[to].round.onAveragedChunk(averaged, from: sender, now: now), of: to)
            }
        case .skipped(let bytes):
            handle(members[to].round.onPartSkipped(try! PartSkipped(decoding: bytes[...]), from: sender, now: now), of: to)
        case .closed:
            knownFailed[to].insert(from)
            handle(members[to].round.onPeerFailed(sender, now: now), of: to)
        }
    }

    private mutating func handle(_ actions: [AllReduceRound.Action], of index: Int) {
        for action in actions {
            switch action {
            case .sendPartChunk(let reference, let target):
                send(.part(members[index].round.partChunk(for: reference).encoded()), from: index, to: [target])
            case .sendAveragedChunk(let reference, let targets):
                if case .crashBeforeFirstAverage = faults[index] {
                    crash(index)
                }
                var payload = members[index].round.averagedChunkPayload(for: reference)
                if case .forgeAverages(let forge) = faults[index] {
                    var averaged = try! AveragedChunk(decoding: payload[...])
                    let values = averaged.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                    averaged.bytes = forge(values).withUnsafeBytes { Array($0) }[...]
                    payload = averaged.encoded()
                }
                send(.averaged(payload), from: index, to: targets)
            case .wake(let time):
                wakes.insert(time)
            case .checkAlive(let peer):
                let target = plan.index(of: peer)!
                checksAlive.append([index, target])
                if case .vanish = faults[target], down.contains(target) {
                    queue.append((target, index, .closed))
                }
            case .dropPeer(let peer, _), .banPeer(let peer, _):
                members[index].dropped.append(peer)
                if case .banPeer = action { members[index].banned.append(peer) }
                // An owner discards what a dropped sender sent for chunks not yet averaged; the
                // tests' bad senders are bad from their first chunk, so none of theirs counts.
                let sender = plan.index(of: peer)!
                knownFailed[index].insert(sender)
                contributions = contributions.filter { $0[0] != sender || $0[1] != index }
            case .partReduced(let elements):
                #expect(elements == plan.parts[index])
                awaitingSecondStage.insert(index)
            case .sendPartSkipped(let part, let gridParts, let targets):
                send(.skipped(PartSkipped(roundID: plan.id, part: part, gridParts: gridParts).encoded()), from: index, to: targets)
            case .finished(let result):
                #expect(members[index].result == nil, "member \(index) finished twice")
                members[index].result = result
            }
        }
    }

    /// The second stage of owner `index`'s part is over: the average across groups is in its
    /// vector (`averaged`), or the part is given up.
    mutating func resolveSecondStage(of index: Int, averaged: Bool, skipping skipped: UInt64 = 0) {
        #expect(awaitingSecondStage.remove(index) != nil, "member \(index) was not waiting for a second stage")
        handle(averaged ? members[index].round.onPartAveraged(skipping: skipped, now: now) : members[index].round.onPartSkipped(now: now),
               of: index)
    }

    /// The owners waiting for their second stage never hear from it: time moves on.
    mutating func forgetSecondStage() {
        awaitingSecondStage = []
    }

    private mutating func send(_ message: Message, from index: Int, to targets: [PeerID]) {
        for target in targets {
            guard !down.contains(index) else { return }
            switch faults[index] {
            case .crash(let limit) where sentCount[index] == limit:
                crash(index)
                return
            case .stall(let limit) where sentCount[index] == limit, .vanish(let limit) where sentCount[index] == limit:
                down.insert(index)
                return
            default:
                break
            }
            sentCount[index] += 1
            queue.append((index, plan.index(of: target)!, message))
        }
    }

    private mutating func crash(_ index: Int) {
        guard !down.contains(index) else { return }
        down.insert(index)
        for other in members.indices where other != index {
            queue.append((index, other, .closed))
        }
    }

    /// The weighted mean of the members whose chunk reached the owner, element by element.
    func expectedAverage() -> [Double] {
        let chunkSize = members[0].round.settings.chunkSize
        var expected = [Double](repeating: 0, count: plan.elementCount)
        for (part, range) in plan.parts.enumerated() {
            for element in range {
                let chunk = (element - range.lowerBound) / chunkSize
                let senders = members.indices.filter { $0 == part || contributions.contains([$0, part, chunk]) }
                let weight = senders.reduce(0.0) { $0 + Double(plan.weights[$1]) }
                expected[element] = senders.reduce(0.0) {
                    $0 + Double(plan.weights[$1]) * Double(members[$1].original[element])
                } / weight
            }
        }
        return expected
    }
}
