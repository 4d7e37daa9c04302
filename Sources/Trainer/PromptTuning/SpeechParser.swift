/// Speeches of a play text laid out as Tiny Shakespeare is: a line "NAME:", the speech's lines,
/// a blank line.
enum SpeechParser {
    struct Speech: Equatable {
        let speaker: [UInt8]
        let lines: [ArraySlice<UInt8>]
    }

    static func speeches(in text: [UInt8]) -> [Speech] {
        let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var speeches: [Speech] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            guard isSpeakerLine(line) else { continue }
            var body: [ArraySlice<UInt8>] = []
            while index < lines.count, !lines[index].isEmpty {
                body.append(lines[index])
                index += 1
            }
            if !body.isEmpty { speeches.append(Speech(speaker: Array(line.dropLast()), lines: body)) }
        }
        return speeches
    }

    /// Whole lines of the speech joined by newlines, as many as fit in `maxBytes` (the first
    /// line cut if it alone is longer); nil for a speech too short to say much.
    static func text(of speech: Speech, maxBytes: Int) -> [UInt8]? {
        var text = Array(speech.lines[0].prefix(maxBytes))
        for line in speech.lines.dropFirst() {
            guard text.count + 1 + line.count <= maxBytes else { break }
            text.append(UInt8(ascii: "\n"))
            text += line
        }
        return text.count >= 24 ? text : nil
    }

    /// "NAME:" or "First Citizen:": a capital letter first, letters and spaces, a colon last.
    private static func isSpeakerLine(_ line: ArraySlice<UInt8>) -> Bool {
        guard line.count >= 2, line.last == UInt8(ascii: ":"), let first = line.first, (65...90).contains(first) else { return false }
        return line.dropLast().allSatisfy { (65...90).contains($0) || (97...122).contains($0) || $0 == 32 || $0 == 39 }
    }
}
