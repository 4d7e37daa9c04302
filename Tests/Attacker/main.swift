import CohortBase
import Collaboration
import DHT
import Foundation
import Logging
import NIOPosix
import Node
import Trainer
import Wire

/// `cohort-attacker`: a hostile volunteer for the red-team suite (Tests/AttackTests, `make
/// attacks`). Joins a run on 127.0.0.1 with one identity per attack, publishes the attacks'
/// records every half second for `--seconds` (or until SIGTERM/SIGINT), takes part in rounds
/// (`poisoned-average`) and asks honest peers for replies it never reads (`unread-replies`),
/// then prints one JSON line: what it served, the rounds it poisoned, the reply bytes it asked
/// for, and the honest peers' newest state announcements as the DHT holds them.
///
///     cohort-attacker --join 127.0.0.1:PORT --run NAME --seconds 60 [--attacks state-hijack,far-step,…]
struct Options {
    var join: Endpoint
    var runName: String
    var seconds: Double
    var attacks: [Attack]

    static func parse(_ arguments: [String]) throws -> Options {
        var values: [String: String] = [:]
        var index = 0
        while index + 1 < arguments.count {
            values[arguments[index]] = arguments[index + 1]
            index += 2
        }
        guard let join = values["--join"], let endpoint = try? Endpoint(parsing: join), let runName = values["--run"] else {
            throw AttackerError("usage: cohort-attacker --join HOST:PORT --run NAME [--seconds N] [--attacks a,b,…]")
        }
        let attacks = try (values["--attacks"]?.split(separator: ",").map { name in
            guard let attack = Attack(rawValue: String(name)) else { throw AttackerError("unknown attack \(name)") }
            return attack
        }) ?? Attack.allCases
        return Options(join: endpoint, runName: runName, seconds: Double(values["--seconds"] ?? "60") ?? 60, attacks: attacks)
    }
}

struct AttackerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The run's config as the coordinator signed it.
func readConfig(_ service: DHTService, runName: String) async throws -> RunConfig {
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
        for record in (try? await service.get(RunKeys.runs)) ?? [] {
            if let config = try? SignedRunConfig(decoding: record.value).verifiedConfig(expectedCoordinator: record.ownerPublicKey),
               config.name == runName {
                return config
            }
        }
        try await Task.sleep(for: .milliseconds(500))
    }
    throw AttackerError("no run config for \(runName)")
}

/// Honest peers' newest announcements: every one not written by an attacker identity.
func honestAnnouncements(_ service: DHTService, keys: RunKeys, attackers: Set<PeerID>) async -> [(PeerID, StateAnnouncement)] {
    ((try? await service.get(keys.state)) ?? []).compactMap { record in
        guard record.isUnderOwnersSubkey, !attackers.contains(record.ownerID),
              let announcement = try? StateAnnouncement(decoding: record.value) else { return nil }
        return (record.ownerID, announcement)
    }
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// Set by SIGTERM or SIGINT: the attacker stops attacking and reports.
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false
    private var sources: [DispatchSourceSignal] = []

    init() {
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in lock.withLock { requested = true } }
            source.resume()
            sources.append(source)
        }
    }

    var isRequested: Bool { lock.withLock { requested } }
}

func run() async throws {
    let options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
    let stop = StopRequest()
    LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
    var logger = Logger(label: "cohort-attacker")
    logger.logLevel = .warning
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let keys = RunKeys(runName: options.runName)
    var nodes: [HostileNode] = []
    var stateBytes = 0
    for attack in options.attacks {
        if nodes.isEmpty {
            let probe = try await HostileNode.start(attack, join: options.join, keys: keys, stateBytes: 1,
                                                    eventLoop: group.next(), logger: logger)
            let config = try await readConfig(probe.service, runName: options.runName)
            stateBytes = TrainingRun.stateByteCount(for: config.training.model)
            await probe.service.shutdown()
        }
        nodes.append(try await HostileNode.start(attack, join: options.join, keys: keys, stateBytes: stateBytes,
                                                 eventLoop: group.next(), logger: logger))
    }
    let config = try await readConfig(nodes[0].service, runName: options.runName)
    let attackers = Set(nodes.map(\.service.peerID))
    let deadline = Date().addingTimeInterval(options.seconds)
    let averagers = nodes.filter { $0.attack == .poisonedAverage }.map { PoisonedAverager(node: $0, config: config, siblings: attackers) }
    let unreaders = nodes.filter { $0.attack == .unreadReplies }.map { UnreadRepliesNode(node: $0) }
    await withTaskGroup(of: Void.self) { group in
        for averager in averagers {
            group.addTask { await averager.run(until: deadline, stop: stop, attackers: attackers) }
        }
        while Date() < deadline && !stop.isRequested {
            let honest = await honestAnnouncements(nodes[0].service, keys: keys, attackers: attackers)
            if let newest = honest.map(\.1).max(by: { $0.step < $1.step }) {
                for node in nodes {
                    await node.tick(honestStep: newest.step, honestHash: newest.stateHash, targetBatch: config.targetBatchSize)
                }
            }
            for unreader in unreaders { unreader.aim(at: honest, stateBytes: stateBytes) }
            try? await Task.sleep(for: .milliseconds(500))
        }
        await group.waitForAll()
    }
    for unreader in unreaders { unreader.stop() }
    var poisonedRounds: [[String: Any]] = []
    for node in nodes where node.attack == .poisonedAverage {
        for round in (try? await node.owner.rounds()) ?? [] {
            poisonedRounds.append(["step": Int(round.step), "members": round.members, "poison": round.poison.rawValue,
                                   "chunks_served": round.chunksServed])
        }
    }
    let honest = await honestAnnouncements(nodes[0].service, keys: keys, attackers: attackers)
    let report: [String: Any] = [
        "attacks": options.attacks.map(\.rawValue),
        "attacker_ids": nodes.map { hex($0.service.peerID.bytes) },
        "state_chunks_served": nodes.map(\.served).reduce(0, +),
        "honest_states": honest.map { ["peer": hex($0.0.bytes), "step": $0.1.step, "hash": hex($0.1.stateHash)] },
        "poisoned_rounds": poisonedRounds,
        "unread_connections": unreaders.map(\.connectionCount).reduce(0, +),
        "unread_reply_bytes_requested": unreaders.map(\.requestedBytes).reduce(0, +),
    ]
    let line = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
    print(String(decoding: line, as: UTF8.self))
    for node in nodes { await node.service.shutdown() }
    try await group.shutdownGracefully()
}

do {
    try await run()
} catch {
    FileHandle.standardError.write(Data("cohort-attacker: \(error)\n".utf8))
    exit(1)
}
