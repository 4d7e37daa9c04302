import Averaging
import Collaboration
import DHT
import Foundation
import Logging
import NIOCore
import Node
import Wire

extension PeerSession {
    /// The run's batch is complete: form a group, average gradients, step, announce.
    /// `expectedPeers` (from the progress records) lets the group form as soon as they declared.
    func averageAndStep(expectedPeers: Int) async throws {
        let step = run.step
        let loss = windowSamples > 0 ? windowLoss / Double(windowSamples) : 0
        run.averageAccumulatedGradients()
        let samples = run.accumulatedSamples
        let started = Date()
        switch await formGroup(step: step, samples: samples, expectedPeers: expectedPeers) {
        case .formed(let plan):
            // The plan's parts follow the members' announced bandwidths (`LoadBalancing`); the
            // fault-injection suite reads this line to check that they do.
            let part = plan.index(of: me).map { plan.parts[$0].count } ?? 0
            logger.info("averaging", metadata: ["step": "\(step)", "peers": "\(plan.members.count)",
                                                "part": "\(part)/\(plan.elementCount)", "bandwidth": "\(announcedBandwidth)"])
            let result = try await allReduce(plan: plan)
            for peer in result.silent + result.dropped.map(\.peer) { excludedPeers[peer] = Self.exclusionAttempts }
            bandwidth.observe(result)
            run.applyUpdate(skipping: result.failedParts)
            await announceState()
            let report = RoundReport(
                step: step, members: result.participants.count, samples: Int(result.totalSamples),
                durationSeconds: Date().timeIntervalSince(started), loss: loss, bytesSent: UInt64(result.bytesSent),
                bytesReceived: UInt64(result.bytesReceived), failedParts: result.failedParts.count,
                note: result.failedParts.isEmpty ? "" : "\(result.failedParts.count) part(s) not averaged: skipped by every member")
            await network.publish(keys.round(step: step), report.encoded, seconds: 3600, logger: logger)
            logger.info("round", metadata: ["step": "\(step)", "peers": "\(result.participants.count)",
                                             "samples": "\(result.totalSamples)", "loss": "\(String(format: "%.4f", loss))",
                                             "state": "\(announcedHash.prefix(6).map { String(format: "%02x", $0) }.joined())",
                                             "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
                                             "allreduce.seconds": "\(String(format: "%.2f", result.duration / .seconds(1)))",
                                             "failed.parts": "\(result.failedParts.count)",
                                             "inbound": "\(result.inboundBytesPerSecond.map { String(Int($0)) } ?? "-")"])
            let others = Set(result.participants.compactMap { DHTID(bytes: $0.bytes) }).subtracting([identity.peerID])
            pendingAgreement = others.isEmpty ? nil : PendingAgreement(
                step: run.step, members: others, deadline: Date().addingTimeInterval(config.averagingTimeoutSeconds))
        case .failed(let failure):
            if case .noOtherPeer = failure {
                // Alone in the run: this peer's batch is the global batch.
                run.applyUpdate()
                await announceState()
                let report = RoundReport(step: step, members: 1, samples: samples, durationSeconds: Date().timeIntervalSince(started),
                                         loss: loss, bytesSent: 0, bytesReceived: 0, failedParts: 0, note: failure.description)
                await network.publish(keys.round(step: step), report.encoded, seconds: 3600, logger: logger)
                logger.info("round", metadata: ["step": "\(step)", "peers": "1", "samples": "\(samples)", "note": "\(failure)",
                                                 "state": "\(announcedHash.prefix(6).map { String(format: "%02x", $0) }.joined())"])
            } else {
                run.discardAccumulatedGradients()
                logger.warning("could not average step \(step): \(failure)")
                let report = RoundReport(step: step, members: 0, samples: 0, durationSeconds: Date().timeIntervalSince(started),
                                         loss: loss, bytesSent: 0, bytesReceived: 0, failedParts: 0, note: failure.description)
                await network.publish(keys.round(step: step), report.encoded, seconds: 3600, logger: logger)
            }
        }
        windowLoss = 0
        windowSamples = 0
        // Tell the others at once that this peer is at the new step, so their count of peers
        // to expect in the next group includes it.
        await publishProgress()
        lastPublished = Date()
    }

    /// Matchmaking through DHT records: declarations under the step's key, the leader's plan
    /// under the plan key (so members in client mode receive it too).
    private func formGroup(step: Int, samples: Int, expectedPeers: Int) async -> GroupOutcome {
        var settingsForStep = Matchmaker.Settings(elementCount: run.model.parameters.count)
        settingsForStep.expectedGroupSize = expectedPeers
        settingsForStep.gatherWindow = .milliseconds(Int64(config.matchmakingSeconds * 1000))
        settingsForStep.planTimeout = .seconds(5)
        settingsForStep.excluded = Set(excludedPeers.keys)
        // Exclusions count down by matchmaking attempts, not steps: a peer whose only company is
        // excluded does not step, and would otherwise wait for good.
        excludedPeers = excludedPeers.compactMapValues { $0 > 1 ? $0 - 1 : nil }
        let endpoint = network.dht.endpoint
        var matchmaker = Matchmaker(peer: me, address: settings.clientMode ? "" : "\(endpoint.host):\(endpoint.port)",
                                    clientMode: settings.clientMode, settings: settingsForStep)
        var actions = matchmaker.onReady(step: UInt64(step), samples: UInt64(samples), bandwidth: announcedBandwidth,
                                         now: PeerServices.now())
        var wakeAt = PeerServices.now() + .seconds(1)
        var publishedPlan = false
        defer {
            for leader in matchmaker.leadersThatDidNotAnswer { excludedPeers[leader] = Self.exclusionAttempts }
        }
        while true {
            for action in actions {
                switch action {
                case .publishDeclaration(let declaration):
                    await network.publish(keys.declarations(step: step, state: announcedHash), declaration.encoded(), seconds: 120, logger: logger)
                case .wake(let time):
                    wakeAt = time
                case .sendPlan(let plan, _):
                    if !publishedPlan {
                        publishedPlan = true
                        await network.publish(keys.plan(step: step, state: announcedHash), plan.encoded(), seconds: 120, logger: logger)
                    }
                case .groupFormed(let plan):
                    return .formed(plan)
                case .failed(let failure):
                    return .failed(failure)
                }
            }
            actions = []
            try? await Task.sleep(for: .milliseconds(150))
            let now = PeerServices.now()
            if now >= wakeAt {
                actions += matchmaker.onDeadline(now: now)
                continue
            }
            // Plans first: peers already in another leader's plan must not count as candidates.
            for record in await network.records(keys.plan(step: step, state: announcedHash)) where record.isUnderOwnersSubkey {
                guard let plan = try? GroupPlan(decoding: record.value[...]),
                      let sender = Averaging.PeerID(bytes: record.ownerID.bytes) else { continue }
                actions += matchmaker.onPlan(plan, from: sender, now: now)
            }
            // A declaration speaks for the peer it names: only that peer's own record counts, or
            // anyone could declare absent peers with the lowest ids and stall every round on a
            // leader that never answers.
            let declarations = await network.records(keys.declarations(step: step, state: announcedHash))
                .compactMap { record -> Declaration? in
                    guard record.isUnderOwnersSubkey, let declaration = try? Declaration(decoding: record.value[...]),
                          declaration.peer.bytes == record.ownerID.bytes else { return nil }
                    return declaration
                }
            actions += matchmaker.onDeclarationsSeen(declarations, now: now)
        }
    }

    private func allReduce(plan: GroupPlan) async throws -> AllReduceResult {
        var endpoints: [Averaging.PeerID: Endpoint] = [:]
        for member in plan.members where !member.address.isEmpty {
            if let endpoint = try? Endpoint(parsing: member.address) { endpoints[member.peer] = endpoint }
        }
        var settings = AllReduceRound.Settings(
            compression: config.compression.averagingCompression,
            chunkSize: AllReduceRound.Settings.chunkSize(forElementCount: plan.elementCount, memberCount: plan.members.count))
        settings.aggregation = config.aggregation
        settings.roundTimeout = .milliseconds(Int64(config.averagingTimeoutSeconds * 1000))
        settings.senderTimeout = .milliseconds(Int64(config.averagingTimeoutSeconds * 700))
        let vector = UnsafeMutableBufferPointer(start: run.model.gradients.base, count: run.model.gradients.count)
        let services = network.services, me = self.me, roundSettings = settings, memberEndpoints = endpoints
        let box = VectorBox(vector: vector)
        return try await network.eventLoop.flatSubmit {
            services.value.startRound(plan: plan, me: me, vector: box.vector, settings: roundSettings, endpoints: memberEndpoints)
        }.get()
    }
}

enum GroupOutcome {
    case formed(GroupPlan)
    case failed(FormationFailure)
}

/// The gradient arena handed to the event loop for one round; the training loop waits for the
/// round and does not touch the arena meanwhile.
private struct VectorBox: @unchecked Sendable {
    let vector: UnsafeMutableBufferPointer<Float>
}

extension RunConfig.Compression {
    var averagingCompression: Averaging.Compression {
        switch self {
        case .none: .none
        case .float16: .float16
        case .int8: .blockwiseInt8(blockSize: 256)
        }
    }
}
