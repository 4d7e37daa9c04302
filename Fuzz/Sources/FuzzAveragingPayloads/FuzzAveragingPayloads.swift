import Foundation
import FuzzSupport
import Averaging

/// Decodes arbitrary payloads as each averaging message (the first input byte picks which) and
/// checks that whatever decodes re-encodes to the same bytes. Decoded chunks are also decoded
/// with their codec, as an owner or member would once the size is checked. A decoded group plan
/// is used as a member uses it (leader, sample total, own index).
/// Any crash, hang or sanitizer report is a bug; thrown `PayloadDecodingError`s are expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAveragingPayloads(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let payload = bytes[1...]
    switch selector % 7 {
    case 0:
        guard let chunk = try? PartChunk(decoding: payload) else { return 0 }
        precondition(chunk.encoded()[...] == payload, "part chunk encoding is not canonical: \(chunk)")
        decodeValues(chunk.bytes, compression: chunk.compression)
    case 1:
        guard let chunk = try? AveragedChunk(decoding: payload) else { return 0 }
        precondition(chunk.encoded()[...] == payload, "averaged chunk encoding is not canonical: \(chunk)")
        decodeValues(chunk.bytes, compression: chunk.compression)
    case 2:
        guard let declaration = try? Declaration(decoding: payload) else { return 0 }
        precondition(declaration.encoded()[...] == payload, "declaration encoding is not canonical: \(declaration)")
        // A matchmaking leader forms a plan from declarations like this one.
        var other = declaration
        other.peer = PeerID(bytes: declaration.peer.bytes.map { ~$0 })!
        _ = GroupPlan(step: declaration.step, elementCount: 1000, members: [declaration, other])
    case 3:
        guard let plan = try? GroupPlan(decoding: payload) else { return 0 }
        precondition(plan.encoded()[...] == payload, "group plan encoding is not canonical")
        _ = plan.leader
        _ = plan.totalSamples
        for member in plan.members {
            precondition(plan.index(of: member.peer) != nil)
        }
        precondition(plan.parts.reduce(0) { $0 + $1.count } == plan.elementCount, "parts do not tile the vector")
    case 5:
        guard let reference = try? PartChunkReference(decoding: payload) else { return 0 }
        precondition(reference.encoded()[...] == payload, "part chunk reference encoding is not canonical: \(reference)")
        precondition(reference.memory.byteCount <= ChunkLimits.maxByteCount, "reference beyond the chunk limit")
    case 6:
        guard let reference = try? AveragedChunkReference(decoding: payload) else { return 0 }
        precondition(reference.encoded()[...] == payload, "averaged chunk reference encoding is not canonical: \(reference)")
        precondition(reference.memory.byteCount <= ChunkLimits.maxByteCount, "reference beyond the chunk limit")
    default:
        guard let abort = try? Abort(decoding: payload) else { return 0 }
        precondition(abort.encoded()[...] == payload, "abort encoding is not canonical: \(abort)")
    }
    return 0
}

/// Decodes and accumulates `bytes` as the values they encode, when some value count fits them
/// exactly (the all-reduce round drops chunks of any other size before decoding).
private func decodeValues(_ bytes: ArraySlice<UInt8>, compression: Compression) {
    // encodedByteCount grows with the element count: search for a count that fits.
    var low = 0, high = bytes.count
    while low < high {
        let middle = (low + high) / 2
        if compression.encodedByteCount(elementCount: middle) < bytes.count { low = middle + 1 } else { high = middle }
    }
    guard compression.encodedByteCount(elementCount: low) == bytes.count else { return }
    var values = [Float](repeating: 1, count: low)
    bytes.withUnsafeBytes { raw in
        values.withUnsafeMutableBufferPointer { compression.decode(raw, into: $0) }
        values.withUnsafeMutableBufferPointer { compression.accumulate(raw, weight: 0.5, into: $0) }
    }
}

/// SwiftPM links executables with `main` aliased to `<Target>_main`; this is it.
@_cdecl("FuzzAveragingPayloads_main")
public func fuzzAveragingPayloadsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, test: fuzzAveragingPayloads, seeds: seeds)
}

/// One or two valid encodings of each payload; `runFuzzer` adds truncated copies when it writes the corpus.
private func seeds() -> [FuzzSeed] {
    let alice = PeerID(bytes: (0..<32).map { UInt8($0) })!
    let bob = PeerID(bytes: (0..<32).map { UInt8(200 - $0) })!
    let carol = PeerID(bytes: [UInt8](repeating: 0x7f, count: 32))!
    let values: [Float] = [1, -2, 0.5, 3, 7, -0.25, 100, 0]
    func encoded(_ compression: Compression) -> ArraySlice<UInt8> {
        var bytes = [UInt8](repeating: 0, count: compression.encodedByteCount(elementCount: values.count))
        values.withUnsafeBufferPointer { source in bytes.withUnsafeMutableBytes { _ = compression.encode(source, into: $0) } }
        return bytes[...]
    }
    let declarations = [
        Declaration(step: 7, peer: alice, address: "10.0.0.1:4000", bandwidth: 12_500_000, clientMode: false, samples: 64),
        Declaration(step: 7, peer: bob, address: "10.0.0.2:4000", bandwidth: 1_250_000, clientMode: false, samples: 32),
        Declaration(step: 7, peer: carol, address: "", bandwidth: 0, clientMode: true, samples: 16),
    ]
    let pair = GroupPlan(step: 7, elementCount: 1000, members: Array(declarations.prefix(2)))!
    let three = GroupPlan(step: 7, elementCount: 123_457, members: declarations)!
    return [
        ("part-chunk-none", [0] + PartChunk(roundID: pair.id, step: pair.step, part: 0, chunk: 0, sender: bob, compression: .none, bytes: encoded(.none)).encoded()),
        ("part-chunk-float16", [0] + PartChunk(roundID: pair.id, step: pair.step, part: 1, chunk: 3, sender: alice, compression: .float16, bytes: encoded(.float16)).encoded()),
        ("averaged-chunk-int8", [1] + AveragedChunk(roundID: three.id, part: 1, chunk: 2, compression: .blockwiseInt8(blockSize: 4), bytes: encoded(.blockwiseInt8(blockSize: 4))).encoded()),
        ("averaged-chunk-none", [1] + AveragedChunk(roundID: three.id, part: 0, chunk: 0, compression: .none, bytes: encoded(.none)).encoded()),
        ("declaration", [2] + declarations[0].encoded()),
        ("declaration-client", [2] + declarations[2].encoded()),
        ("group-plan-two", [3] + pair.encoded()),
        ("group-plan-three", [3] + three.encoded()),
        ("abort", [4] + Abort(roundID: pair.id, sender: alice, reason: "part 1 from bob is not finite").encoded()),
    ]
}
