import Testing
import Wire

@Suite struct PeerTextTests {
    @Test(arguments: [
        ("ok\n[fake log line] admitted", "ok\\u{A}[fake log line] admitted"),
        ("\u{1B}[2J\u{1B}]0;owned\u{07}", "\\u{1B}[2J\\u{1B}]0;owned\\u{7}"),
        ("a\u{7F}b\u{85}c\u{9B}d", "a\\u{7F}b\\u{85}c\\u{9B}d"),
        ("gpu\u{202E}exe.1\u{2066}x\u{2028}y", "gpu\\u{202E}exe.1\\u{2066}x\\u{2028}y"),
        ("naïve peer ⚡️ 东京", "naïve peer ⚡️ 东京"),
    ])
    func unsafeScalarsAreEscapedAndTheRestKept(text: String, escaped: String) {
        #expect(PeerText.escaped(text, maxBytes: 200) == escaped)
        #expect(PeerText.isSafe(PeerText.escaped(text, maxBytes: 200)))
        #expect(PeerText.isSafe(text) == (text == escaped))
    }

    @Test func longTextIsCutOnAScalarBoundaryWithAnEllipsis() {
        let cut = PeerText.escaped(String(repeating: "é", count: 100), maxBytes: 10)
        #expect(cut == "ééé…")
        #expect(cut.utf8.count <= 10)
        #expect(PeerText.escaped("\n\n\n", maxBytes: 8) == "\\u{A}…")
        #expect(PeerText.escaped("short", maxBytes: 5) == "short")
    }

    @Test func errorReasonIsSentEscapedAndOneWithAControlCharacterIsRefused() throws {
        let forged = DHTMessage.error(.init(code: 7, message: "busy\n[fake log line]"))
        let decoded = try DHTMessage(frame: forged.frame(requestID: 1))
        #expect(decoded == .error(.init(code: 7, message: "busy\\u{A}[fake log line]")))

        var writer = ByteWriter()
        writer.write(UInt16(7))
        writer.writeWithU16Length(Array("busy\u{1B}[31m".utf8))
        #expect(throws: WireError.invalidValue) { try DHTMessage(frame: Frame(type: .error, requestID: 1, payload: writer.bytes)) }
    }

    @Test(arguments: ["evil\n10.0.0.1", "host\u{1B}[2J", "a\u{202E}b", "two words"])
    func contactWithAnUnprintableHostIsInvalid(host: String) {
        var writer = ByteWriter()
        writer.write(UInt8(1))
        writer.write(raw: Samples.id(1).bytes)
        writer.writeWithU8Length(Array(host.utf8))
        writer.write(UInt16(1))
        #expect(throws: WireError.invalidValue) { try DHTMessage(frame: Frame(type: .ping, requestID: 1, payload: writer.bytes)) }
    }

    @Test func endpointTextWithAControlCharacterIsRefusedAndQuotedEscaped() {
        let badHost = #expect(throws: Endpoint.ParseError.self) { try Endpoint(parsing: "host\u{1B}[2J:1") }
        #expect(badHost?.description == "\"host\\u{1B}[2J:1\" has no valid host")
        let twoLines = #expect(throws: Endpoint.ParseError.self) { try Endpoint(parsing: "a\nb") }
        #expect(twoLines?.description == "\"a\\u{A}b\" is not HOST:PORT")
    }
}
