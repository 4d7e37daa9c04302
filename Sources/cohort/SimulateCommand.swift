import ArgumentParser
import Foundation
import Simulation

/// `cohort simulate`: a whole run of many volunteers on one virtual clock (docs/simulation.md).
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate a collaborative run of many volunteers on one virtual clock.",
        discussion: """
            Every volunteer runs the real session state machine; the trainer, the DHT, the \
            all-reduce and home links are models (docs/simulation.md). Prints progress to standard \
            error while it runs, and the run's figures at the end.
            """
    )

    @Option(help: "Volunteers online at once.")
    var volunteers = 100

    @Option(help: "Simulated hours.")
    var hours = 1.0

    @Option(help: "Mean volunteer session in hours: volunteers leave after sessions drawn around it and others join. Off by default.")
    var churn: Double?

    @Option(help: "Seed for the volunteers' machines, arrivals and choices; a run is reproducible from it.")
    var seed: UInt64 = 1

    @Option(help: "Samples in the run's global batch.")
    var targetBatch = 4096

    @Option(help: "Model parameters (millions).")
    var parametersMillions = 10.0

    @Option(help: "Share of volunteers in client mode (behind NAT), in [0, 1].")
    var clientModeShare = 0.3

    @Option(help: "Samples per second per volunteer, LOW:HIGH (drawn log-uniformly), one value, or A,B,C… (each volunteer's in turn).")
    var samplesPerSecond = "4:64"

    @Option(help: "Download bandwidth in Mbit/s, LOW:HIGH (drawn log-uniformly) or one value; upload is half of it.")
    var bandwidthMbit = "10:200"

    @Option(help: "One-way latency in milliseconds, LOW:HIGH or one value.")
    var latencyMs = "10:75"

    @Option(help: "Milliseconds a DHT request costs besides its round trip (signing, sealing, checking on machines that also train).")
    var dhtRequestMs = 0.5

    @Option(help: "Inner steps per averaging round (local SGD, as cohort coordinator --local-steps).")
    var localSteps = 1

    @Option(help: "Streaming local SGD: each round averages one of this many fragments (as cohort coordinator --fragments).")
    var fragments = 1

    @Flag(inversion: .prefixedNo, help: "Under local SGD, volunteers train on while their round averages (as cohort peer does by default) instead of waiting for it.")
    var trainWhileAveraging = true

    @Flag(inversion: .prefixedNo, help: "With overlapped rounds, a volunteer one step behind joins the next round while it replays the update it missed in the background.")
    var joinLate = true

    @Flag(inversion: .prefixedNo, help: "With overlapped rounds, volunteers train on while their group forms too (as cohort peer --train-while-matchmaking).")
    var trainWhileMatchmaking = true

    @Option(help: "Samples per micro-batch.")
    var microBatch = 4

    @Option(help: "Seconds volunteers gather when forming a group.")
    var matchmakingSeconds = 5.0

    @Option(help: "Seconds an averaging round may take.")
    var averagingTimeoutSeconds = 60.0

    @Option(help: "Updates each volunteer keeps for joiners to replay instead of downloading the state (as cohort peer --replay-updates); 0 always downloads.")
    var replayUpdates = 4

    @Option(help: "Seconds over which the first volunteers come online (default: a tenth of the run, at most 60).")
    var arrivalSeconds: Double?

    @Option(help: "Shards of the run's progress records and state announcements, a power of two (as cohort coordinator --shards).")
    var shards = 1

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        var settings = SimulationSettings(volunteers: volunteers, simulatedSeconds: hours * 3600, seed: seed,
                                          meanSessionSeconds: churn.map { $0 * 3600 })
        settings.targetBatchSize = targetBatch
        settings.parameters = Int(parametersMillions * 1_000_000)
        settings.clientModeShare = clientModeShare
        if samplesPerSecond.contains(",") {
            settings.samplesPerSecondEach = try Self.list(samplesPerSecond, flag: "--samples-per-second")
        } else {
            settings.samplesPerSecondRange = try Self.range(samplesPerSecond, flag: "--samples-per-second")
        }
        let bandwidth = try Self.range(bandwidthMbit, flag: "--bandwidth-mbit")
        settings.bandwidthRange = bandwidth.lowerBound * 1e6...bandwidth.upperBound * 1e6
        let latency = try Self.range(latencyMs, flag: "--latency-ms")
        settings.latencyRange = latency.lowerBound / 1000...latency.upperBound / 1000
        settings.dhtRequestSeconds = dhtRequestMs / 1000
        settings.microBatch = microBatch
        settings.localSteps = localSteps
        settings.fragments = fragments
        settings.trainsWhileAveraging = trainWhileAveraging
        settings.joinsLate = joinLate
        settings.trainsWhileMatchmaking = trainWhileMatchmaking
        settings.arrivalSeconds = arrivalSeconds
        settings.replayUpdates = replayUpdates
        settings.shards = shards
        settings.matchmakingSeconds = matchmakingSeconds
        settings.averagingTimeoutSeconds = averagingTimeoutSeconds
        settings.reportEverySeconds = max(60, settings.simulatedSeconds / 20)
        let simulation: RunSimulation
        do {
            simulation = try RunSimulation(settings: settings)
        } catch {
            throw ValidationError(error.description)
        }
        let report = simulation.run { progress in
            let line = String(format: "simulated %.0f / %.0f s · %d online · %d rounds · step %d · %.1f s wall\n",
                              progress.simulatedSeconds, progress.totalSeconds, progress.online, progress.rounds, progress.steps,
                              progress.wallSeconds)
            FileHandle.standardError.write(Data(line.utf8))
        }
        print(json ? try DHTBenchCommand.jsonString(report) : Self.describe(report))
    }

    /// "A,B,C…": positive finite numbers, one per volunteer.
    static func list(_ text: String, flag: String) throws -> [Double] {
        let values = text.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) }
        guard values.count <= 100_000, values.allSatisfy({ $0.map { $0.isFinite && $0 > 0 } ?? false }) else {
            throw ValidationError("\(flag) must list up to 100000 positive numbers, A,B,C…; got \(text.prefix(80))")
        }
        return values.compactMap { $0 }
    }

    /// "LOW:HIGH" or one value, both finite and not negative, LOW ≤ HIGH.
    static func range(_ text: String, flag: String) throws -> ClosedRange<Double> {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { Double($0) }
        guard (1...2).contains(parts.count), let low = parts.first ?? nil, let high = parts.last ?? nil,
              low.isFinite, high.isFinite, low >= 0, low <= high else {
            throw ValidationError("\(flag) must be LOW:HIGH or one number, not negative, LOW ≤ HIGH; got \(text)")
        }
        return low...high
    }

    static func describe(_ report: SimulationReport) -> String {
        """
        \(report.volunteers) volunteers (\(report.sessions) sessions, \(report.shards) shard\(report.shards == 1 ? "" : "s")), \(String(format: "%.0f", report.simulatedSeconds)) s simulated \
        in \(String(format: "%.1f", report.wallSeconds)) s
        rounds \(report.rounds) (mean group \(String(format: "%.1f", report.meanGroupSize)), \
        \(String(format: "%.1f", report.meanRoundSeconds)) s each), alone steps \(report.aloneSteps), highest step \(report.steps)
        utilisation \(String(format: "%.1f", report.utilisation * 100)) %\
        \(report.trainWhileAveraging ? String(format: " (training through %.0f %% of the rounds' time)", report.trainingShareWhileAveraging * 100) : ""), \
        matchmaking success \
        \(String(format: "%.1f", report.matchmakingSuccessRate * 100)) %, state downloads \(report.stateDownloads), \
        replays \(report.stateReplays), late joins \(report.lateJoins), hash mismatches \(report.hashMismatches)
        joiners \(report.joiners), \(report.joinersAveraged) of them averaged, \
        \(String(format: "%.1f", report.meanRoundsToAverage)) steps from load to first round on average (at most \(report.maxRoundsToAverage))
        DHT \(String(format: "%.1f", report.dhtMessagesPerPeerPerSecond)) messages per peer per second; hottest key \
        \(report.hottestKey) at \(String(format: "%.0f", report.hottestKeyBytesPerSecond / 1e3)) kB/s; \
        \(String(format: "%.0f", report.bytesPerSample)) bytes per sample
        """
    }
}
