import DHT

/// One volunteer's machine: its links and its compute, drawn from the settings' mixes.
struct VolunteerProfile: Sendable {
    var uploadBitsPerSecond: Double
    var downloadBitsPerSecond: Double
    var latencySeconds: Double
    var samplesPerSecond: Double
    var clientMode: Bool

    static func draw(from settings: SimulationSettings, using random: inout SplitMix64) -> VolunteerProfile {
        let download = logUniform(settings.bandwidthRange, &random)
        return VolunteerProfile(uploadBitsPerSecond: download * settings.uploadShare, downloadBitsPerSecond: download,
                                latencySeconds: Double.random(in: settings.latencyRange, using: &random),
                                samplesPerSecond: logUniform(settings.samplesPerSecondRange, &random),
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
