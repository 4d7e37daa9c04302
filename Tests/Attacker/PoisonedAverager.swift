import CohortBase
import Averaging
import Collaboration
import DHT
import Foundation
import Node
import Trainer
import Wire

/// The matchmaking side of the `poisoned-average` identity: at every new honest step it
/// publishes progress (so the honest peers expect it in the group) and a declaration of the
/// largest bandwidth and sample count the wire allows, then gathers with the project's own
/// `Matchmaker`. With the lowest id it leads, so its plan is the one honest peers follow; it
/// ignores its sibling identities' declarations so that it never waits for them. Every group it
/// is in goes to `PoisonedOwner`: poisoned ×10⁶ in the first, NaN in the rest.
actor PoisonedAverager {
    private struct Gathering {
        let step: Int
        let stateHash: [UInt8]
        var matchmaker: Matchmaker
        var publishedPlan = false
    }

    private let node: HostileNode
    private let config: RunConfig
    private let siblings: Set<PeerID>
    private let me: PeerID
    private var gathering: Gathering?
    private var lastStep = -1

    init(node: HostileNode, config: RunConfig, siblings: Set<PeerID>) {
        self.node = node
        self.config = config
        self.siblings = Set(siblings.compactMap { PeerID(bytes: $0.bytes) })
        me = node.service.peerID
    }

    /// Polls the run every 100 ms until `deadline` or a stop request: rounds are a second or two.
    func run(until deadline: Date, stop: StopRequest, attackers: Set<PeerID>) async {
        while Date() < deadline && !stop.isRequested {
            await poll(attackers: attackers)
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private func poll(attackers: Set<PeerID>) async {
        let honest = await honestAnnouncements(node.service, keys: node.keys, attackers: attackers)
        if let newest = honest.map(\.1).max(by: { $0.step < $1.step }), newest.step > lastStep {
            lastStep = newest.step
            await begin(step: newest.step, stateHash: newest.stateHash, honestPeers: Set(honest.map(\.0)).count)
        }
        guard var current = gathering else { return }
        let now = PoisonedAverager.now()
        let keys = node.keys
        let plans = ((try? await node.service.get(keys.plan(step: current.step, state: current.stateHash))) ?? []).compactMap { record in
            (try? GroupPlan(decoding: record.value[...])).flatMap { plan in
                PeerID(bytes: record.ownerID.bytes).map { (plan, $0) }
            }
        }
        // As honest peers do, a declaration counts only under its writer's subkey, naming its writer.
        let declarations = ((try? await node.service.get(keys.declarations(step: current.step, state: current.stateHash))) ?? [])
            .compactMap { record in
                (try? Declaration(decoding: record.value[...])).flatMap {
                    record.isUnderOwnersSubkey && $0.peer.bytes == record.ownerID.bytes ? $0 : nil
                }
            }
        var actions: [Matchmaker.Action] = []
        for (plan, sender) in plans where sender != me {
            actions += current.matchmaker.onPlan(plan, from: sender, now: now)
        }
        actions += current.matchmaker.onDeclarationsSeen(declarations, now: now)
        actions += current.matchmaker.onDeadline(now: now)
        gathering = current
        await follow(actions)
    }

    /// Publishes progress and a declaration at `step`, expecting every honest peer in the group.
    private func begin(step: Int, stateHash: [UInt8], honestPeers: Int) async {
        var settings = Matchmaker.Settings(elementCount: config.training.model.parameterCount)
        settings.gatherWindow = .milliseconds(Int64(config.matchmakingSeconds * 1000))
        settings.expectedGroupSize = honestPeers + 1
        settings.excluded = siblings
        let endpoint = node.service.endpoint
        var matchmaker = Matchmaker(peer: me, address: "\(endpoint.host):\(endpoint.port)", clientMode: false, settings: settings)
        let actions = matchmaker.onReady(step: UInt64(step), samples: Declaration.maxSamples, bandwidth: Declaration.maxBandwidth,
                                         now: Self.now())
        gathering = Gathering(step: step, stateHash: stateHash, matchmaker: matchmaker)
        let milliseconds = UInt64(Date().timeIntervalSince1970 * 1000)
        await node.publish(node.keys.progress, PeerProgress(step: step, samplesAccumulated: 1, samplesPerSecond: 1, loss: 2,
                                                            timestampMilliseconds: milliseconds).encoded)
        await follow(actions)
    }

    private func follow(_ actions: [Matchmaker.Action]) async {
        guard let current = gathering else { return }
        let keys = node.keys
        for action in actions {
            switch action {
            case .publishDeclaration(let declaration):
                await node.publish(keys.declarations(step: current.step, state: current.stateHash), declaration.encoded())
            case .sendPlan(let plan, _):
                guard gathering?.publishedPlan == false else { continue }
                gathering?.publishedPlan = true
                // The round starts before the plan is out, so that no member's chunk finds it absent.
                await startRound(plan)
                await node.publish(keys.plan(step: current.step, state: current.stateHash), plan.encoded())
            case .groupFormed(let plan):
                if plan.leader != me { await startRound(plan) }
                gathering = nil
                return
            case .failed:
                gathering = nil
                return
            case .wake:
                continue
            }
        }
    }

    private func startRound(_ plan: GroupPlan) async {
        var settings = AllReduceRound.Settings(
            compression: config.compression.averaging,
            chunkSize: AllReduceRound.Settings.chunkSize(for: plan))
        settings.aggregation = config.aggregation
        settings.roundTimeout = .milliseconds(Int64(config.averagingTimeoutSeconds * 1000))
        settings.senderTimeout = .milliseconds(Int64(config.averagingTimeoutSeconds * 700))
        // Huge-norm until one such round reached a group with honest members, then NaN: each
        // NaN round excludes it for a while, and the third bans it. A first round of only its
        // sibling identities, or one nobody sent chunks to, would otherwise use up the huge-norm.
        let rounds = (try? await node.owner.rounds()) ?? []
        let hugeNormLanded = rounds.contains { $0.poison == .hugeNorm && $0.chunksServed > 0 && $0.members >= 3 }
        let poison: Poison = hugeNormLanded ? .notANumber : .hugeNorm
        try? await node.owner.start(plan: plan, me: me, settings: settings, poison: poison)
    }

    private static func now() -> MonotonicInstant { MonotonicInstant(nanoseconds: Int64(DispatchTime.now().uptimeNanoseconds)) }
}

extension RunConfig.Compression {
    /// The codec honest peers average with under this setting.
    var averaging: Compression {
        switch self {
        case .none: .none
        case .float16: .float16
        case .int8: .blockwiseInt8
        }
    }
}
