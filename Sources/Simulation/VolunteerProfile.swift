import DHT

/// One volunteer's machine: its links and its compute, drawn from the settings' mixes.
struct VolunteerProfile: Sendable {
    var uploadBitsPerSecond: Double
    var downloadBitsPerSecond: Double
    /// One way, to the rest of the run.
    var latency: Duration
    var samplesPerSecond: Double
    var clientMode: Bool

    /// The machine of the `session`th volunteer to come online (from 0).
    static func draw(from settings: SimulationSettings, session: Int, using random: inout SplitMix64) -> VolunteerProfile {
        let download = logUniform(settings.bandwidthRange, &random)
        let latency = Duration.seconds(Double.random(in: settings.latencyRange, using: &random))
        // Drawn even when the speeds are listed, so that a list changes no other draw of the seed.
        let drawnSpeed = logUniform(settings.samplesPerSecondRange, &random)
        return VolunteerProfile(uploadBitsPerSecond: download * settings.uploadShare, downloadBitsPerSecond: download,
                                latency: latency,
                                samplesPerSecond: settings.samplesPerSecondEach.map { $0[session % $0.count] } ?? drawnSpeed,
                                clientMode: Double.random(in: 0..<1, using: &random) < settings.clientModeShare)
    }

    private static func logUniform(_ range: ClosedRange<Double>, _ random: inout SplitMix64) -> Double {
        let logged = Double.random(in: log(range.lowerBound)...log(range.upperBound), using: &random)
        return exp(logged)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
