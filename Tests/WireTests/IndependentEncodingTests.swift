import Foundation
import Testing
import Wire

/// The fuzz seeds in Fuzz/Corpus were written by a separate encoder that follows only
/// docs/protocol.md; decoding them here checks the document and the code agree.
@Suite struct IndependentEncodingTests {
    private static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Corpus/FuzzFrameDecoder")

    private static let seedNames = ["error", "ping", "pong", "find-node", "found-nodes", "find-value", "value", "store", "store-ack"]

    @Test(arguments: seedNames)
    func seedFrameDecodesAndReencodesIdentically(_ name: String) throws {
        let bytes = Array(try Data(contentsOf: Self.corpus.appendingPathComponent(name)).dropFirst())
        var decoder = FrameDecoder()
        decoder.feed(bytes)
        guard case .frame(let frame) = try decoder.next() else {
            Issue.record("\(name) is not a whole frame")
            return
        }
        let message = try DHTMessage(frame: frame)
        #expect(message.frame(requestID: frame.requestID).encoded() == bytes)
    }

    @Test func examplesInTheProtocolDocumentAreExact() {
        #expect(Frame(type: .pong, requestID: 0x0102, payload: []).encoded() == Self.hex("43 48 52 54 01 00 02 01 02 01 00 00 00 00 00 00 00 00 00 00 8b b7 7c 98"))
        #expect(DHTMessage.ping(sender: nil).frame(requestID: 7).encoded() == Self.hex("43 48 52 54 01 00 01 01 07 00 00 00 00 00 00 00 01 00 00 00 00 cb da f3 1b"))
    }

    private static func hex(_ text: String) -> [UInt8] {
        text.split(separator: " ").map { UInt8($0, radix: 16)! }
    }
}
