/// How one part of the vector is cut into chunks for streaming: chunk k covers
/// `chunkSize` elements from `part.lowerBound + k·chunkSize`, the last one what is left.
struct ChunkLayout: Hashable, Sendable {
    let part: Range<Int>
    let chunkSize: Int

    var chunkCount: Int {
        (part.count + chunkSize - 1) / chunkSize
    }

    func elements(ofChunk chunk: Int) -> Range<Int> {
        let start = part.lowerBound + chunk * chunkSize
        return start..<min(start + chunkSize, part.upperBound)
    }
}
