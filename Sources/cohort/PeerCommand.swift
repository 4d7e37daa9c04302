import Admission
import ArgumentParser
import Collaboration
import Foundation
import Logging
import Node
import Peer
import Trainer

/// `cohort peer`: volunteer this machine to a run.
struct PeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer",
        abstract: "Join a collaborative run and train with the other peers until stopped (Ctrl-C leaves cleanly).")

    @Option(help: "HOST:PORT of the coordinator or any peer of the run (repeatable).")
    var join: [String] = []
    @Option(help: "HOST:PORT to accept connections on (port 0: any free port).")
    var listen: String = "0.0.0.0:0"
    @Option(help: "HOST or HOST:PORT other peers should dial, if not the listening address (a public address, a NAT port forward).")
    var announce: String?
    @Flag(help: "Accept no connections (behind NAT): train and average as a client.")
    var clientMode = false

    @Flag(inversion: .prefixedNo,
          help: "Copy averaging chunks straight out of the memory of peers proven to run on this machine instead of sending them through sockets (off by default: it lets every process of your user read this peer's memory).")
    var sameHostCopies = false
    @Option(help: "Your shard of the run's training text (default: the bundled Tiny Shakespeare, for runs on it).")
    var data: String?
    @Option(help: "The frozen base model folder of a prompt-tuning run (checked against the run's hash).")
    var base: String?
    @Option(help: "Sequences per forward pass at most (bounds memory).")
    var maxBatch: Int?
    @Option(help: "Identity key file (created with mode 0600 if missing; default: a new identity each start).")
    var identity: String?
    @Option(help: "Run to join when the DHT hosts several.")
    var run: String?
    @Option(help: "The coordinator's public key (64 hex digits, printed by cohort coordinator): accept only its run configs.")
    var coordinatorKey: String?
    @Option(help: "Log level on stderr: trace (also every event and directive of this peer's session), debug, info, notice, warning, error or critical.")
    var logLevel = Logger.Level.info
    @Option(help: "Access token file from the run's operator, for a run that admits only peers with one (implies its run and coordinator key).")
    var token: String?
    @Flag(help: "Print this identity's public key (to send to a run's operator for a token) and exit.")
    var printKey = false
    @Option(help: "Announce this bandwidth in Mbit/s for load balancing instead of measuring it (peers announcing equal values own equal parts).")
    var bandwidthMbit: Double?
    @Option(help: "Leave after this step (default: train until stopped).")
    var stopAfterStep: Int?
    @Option(help: "Keep the last K applied updates for joiners to replay instead of downloading the state again, and replay rather than download when up to K steps behind (0 … \(UpdateChain.maxLength); costs K × 4 bytes per parameter of memory; 0 turns replays off).")
    var replayUpdates = 4
    @Flag(inversion: .prefixedNo, help: "Under local SGD, train on while a round averages (its traffic hides behind compute) instead of waiting for it.")
    var trainWhileAveraging = true
    @Flag(inversion: .prefixedNo, help: "With rounds averaged while training, a peer one step behind joins the next round while it replays the update it missed, instead of replaying first.")
    var joinLate = true
    @Flag(inversion: .prefixedNo, help: "With rounds averaged while training, train on while the group forms too (matchmaking's lookups then cost no compute).")
    var trainWhileMatchmaking = true
    @Option(help: ArgumentHelp("Test hook: delay every frame this peer sends by this many milliseconds.", visibility: .hidden))
    var injectFrameDelayMs = 0
    @Option(help: ArgumentHelp("Test hook: drop each frame this peer sends with this probability.", visibility: .hidden))
    var injectFrameLoss = 0.0
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var deviceOptions: DeviceOptions

    func validate() throws {
        if printKey {
            guard identity != nil else { throw ValidationError("--print-key needs --identity FILE: a throw-away key cannot be given a token") }
            return
        }
        guard !join.isEmpty else { throw ValidationError("give at least one --join HOST:PORT") }
        for address in join { _ = try HostPort.parse(address) }
        _ = try HostPort.parse(listen)
        if let maxBatch, maxBatch < 1 { throw ValidationError("--max-batch must be at least 1") }
        if let bandwidthMbit, !(bandwidthMbit > 0 && bandwidthMbit <= 1e9) {
            throw ValidationError("--bandwidth-mbit must be a positive number of Mbit/s, got \(bandwidthMbit)")
        }
        guard (0...UpdateChain.maxLength).contains(replayUpdates) else {
            throw ValidationError("--replay-updates must be 0 … \(UpdateChain.maxLength), got \(replayUpdates)")
        }
        guard injectFrameDelayMs >= 0 else { throw ValidationError("--inject-frame-delay-ms must not be negative") }
        guard (0...1).contains(injectFrameLoss) else { throw ValidationError("--inject-frame-loss must be in [0, 1]") }
        if let coordinatorKey, Hex.bytes(coordinatorKey)?.count != 32 {
            throw ValidationError("--coordinator-key must be 64 hex digits (32 bytes), got \"\(coordinatorKey)\"")
        }
        if let accessToken = try TokenFileArgument.load(token) {
            if let coordinatorKey, Hex.bytes(coordinatorKey) != accessToken.issuerPublicKey {
                throw ValidationError("--coordinator-key is not the key that signed --token \(token ?? "")")
            }
            if let run, run != accessToken.claims.runName {
                throw ValidationError("--run \(run) differs from the run of --token \(token ?? ""), \(accessToken.claims.runName)")
            }
        }
    }


    func run() async throws {
        if printKey, let identity {
            print(try IdentityFile.loadOrCreate(at: identity).publicKey.hexString)
            return
        }
        threadOptions.apply()
        let logger = makeLogger("cohort.peer", level: logLevel)
        var settings = VolunteerSettings(join: try join.map(HostPort.parse), dataURL: data.map { URL(fileURLWithPath: $0) },
                                         bundledDataURL: BundledCorpus.url)
        settings.baseModelURL = base.map { URL(fileURLWithPath: $0) }
        settings.listen = try HostPort.parse(listen)
        if settings.listen.host == "0.0.0.0" && announce == nil {
            settings.announceHost = "127.0.0.1"
            if !clientMode {
                logger.warning("listening on all interfaces without --announce: other peers are told 127.0.0.1, which only works on this machine; give --announce PUBLIC_HOST for a run across machines")
            }
        }
        if let announce {
            if announce.contains(":") {
                let endpoint = try HostPort.parse(announce)
                (settings.announceHost, settings.announcePort) = (endpoint.host, endpoint.port)
            } else {
                settings.announceHost = announce
            }
        }
        settings.clientMode = clientMode
        settings.sameHostCopies = sameHostCopies
        settings.maxMicroBatch = maxBatch
        let devices = deviceOptions
        settings.accelerator = { training in try devices.accelerator(for: training) }
        settings.identityPath = identity
        settings.runName = self.run
        settings.coordinatorKey = coordinatorKey.flatMap(Hex.bytes)
        settings.accessToken = try TokenFileArgument.load(token)
        if settings.accessToken == nil && settings.coordinatorKey == nil {
            logger.warning("WARNING: no --coordinator-key: this peer takes the run config signed by the node at --join, or else any config published under the run's name, so anyone on the DHT can steer it to settings of their own unless it joins through the coordinator; give the key from the coordinator's \"peers join with\" line")
        }
        settings.stopAfterStep = stopAfterStep
        settings.replayUpdates = replayUpdates
        settings.trainsWhileAveraging = trainWhileAveraging
        settings.joinsLate = joinLate
        settings.trainsWhileMatchmaking = trainWhileMatchmaking
        settings.fixedBandwidth = bandwidthMbit.map { UInt64($0 * 125_000) }
        if injectFrameDelayMs > 0 || injectFrameLoss > 0 {
            settings.faults.allPeers = FaultInjection.Link(delay: .milliseconds(Int64(injectFrameDelayMs)), lossRate: injectFrameLoss)
            logger.warning("test hook: delaying every frame sent by \(injectFrameDelayMs) ms and dropping \(injectFrameLoss * 100) %")
        }
        let stop = StopSignal()
        let sources = SignalStop.install(stop) { name in logger.info("leaving the run", metadata: ["signal": "\(name)"]) }
        defer { sources.forEach { $0.cancel() } }
        try await VolunteerPeer(settings: settings, logger: logger, stop: stop).run()
    }
}
