import ArgumentParser
import Averaging

/// `cohort bench aggregation`: what each aggregation costs an owner per chunk.
struct AggregationBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregation",
        abstract: "Owner time per chunk for the mean, the trimmed mean and CenteredClip.",
        discussion: """
            Times the owner's side of a round on one chunk: checking every member's contribution, the norm \
            bound, the aggregation and encoding the result. One thread; values are random.
            """)

    @Option(help: "Group sizes to measure, comma-separated.") var members = "4,8,16"
    @Option(help: "Values per chunk (a round's default is 65536).") var chunkSize = 1 << 16
    @Option(help: "Aggregations to measure (text form), semicolon-separated.")
    var aggregations = "mean;trimmed-mean:fraction=0.25;centered-clip:tau=1,iterations=5"
    @Option(help: "Seconds of timing per measurement.") var seconds = 1.0
    @Flag(help: "Print one JSON object per measurement.") var json = false

    func validate() throws {
        guard !groupSizes.isEmpty, groupSizes.allSatisfy({ (2...256).contains($0) }) else {
            throw ValidationError("--members must be comma-separated group sizes from 2 to 256, got \(members)")
        }
        guard (1...(1 << 22)).contains(chunkSize) else { throw ValidationError("--chunk-size must be between 1 and 2²²") }
        guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600]") }
        for text in aggregations.split(separator: ";") {
            do {
                _ = try Aggregation(parsing: String(text))
            } catch {
                throw ValidationError("--aggregations: \(error)")
            }
        }
    }

    private var groupSizes: [Int] { members.split(separator: ",").compactMap { Int($0) } }

    func run() throws {
        let chosen = try aggregations.split(separator: ";").map { try Aggregation(parsing: String($0)) }
        for size in groupSizes {
            for aggregation in chosen {
                let result = AggregationBenchmark.measure(aggregation: aggregation, members: size, chunkSize: chunkSize, seconds: seconds)
                if json {
                    printJSON([
                        "aggregation": aggregation.description, "members": size, "chunk_size": chunkSize,
                        "seconds_per_chunk": result.secondsPerChunk, "ns_per_value": result.nanosecondsPerValue,
                        "chunks": result.chunks,
                    ])
                } else {
                    let milliseconds = String(format: "%.3f", result.secondsPerChunk * 1000)
                    let perValue = String(format: "%.2f", result.nanosecondsPerValue)
                    print("\(size) members, \(aggregation): \(milliseconds) ms per chunk of \(chunkSize), \(perValue) ns per value received")
                }
            }
        }
    }
}
