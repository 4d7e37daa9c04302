import Foundation

/// The newline-terminated lines of a region of a file, read a chunk at a time with the offset
/// each line starts at, so that neither the journal's scan at start-up nor a page of rounds
/// holds more of the file than a chunk and a line.
struct JournalLines {
    private static let chunkBytes = 64 << 10

    private let handle: FileHandle
    private let end: UInt64
    private var buffer: [UInt8] = []
    /// Where in `buffer` the next line starts.
    private var cursor = 0
    /// The file offset of `buffer[0]`.
    private var bufferStart: UInt64
    /// The next file offset to read.
    private var readOffset: UInt64

    /// Lines from `start` (which must begin a line) up to `end`; bytes after the last newline
    /// before `end` (a torn last line) are never returned.
    init(handle: FileHandle, from start: UInt64, to end: UInt64) throws {
        try handle.seek(toOffset: start)
        self.handle = handle
        self.end = end
        bufferStart = start
        readOffset = start
    }

    /// The offset just past the last line returned: where a torn tail, if any, begins.
    var consumedEnd: UInt64 { bufferStart + UInt64(cursor) }

    /// The next line without its newline, and the offset it starts at; nil at the end.
    mutating func next() throws -> (offset: UInt64, line: Data)? {
        var searchFrom = cursor
        while true {
            if let newline = buffer[searchFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = (offset: bufferStart + UInt64(cursor), line: Data(buffer[cursor..<newline]))
                cursor = newline + 1
                return line
            }
            guard readOffset < end else { return nil }
            buffer.removeFirst(cursor)
            bufferStart += UInt64(cursor)
            cursor = 0
            searchFrom = buffer.count
            let wanted = Int(min(UInt64(Self.chunkBytes), end - readOffset))
            guard let chunk = try handle.read(upToCount: wanted), !chunk.isEmpty else { return nil }
            buffer.append(contentsOf: chunk)
            readOffset += UInt64(chunk.count)
        }
    }
}
