import CohortBase
import Testing
import Wire

@Suite struct DHTMessageCodecTests {
    @Test(arguments: Samples.messages)
    func everyMessageRoundTrips(_ message: DHTMessage) throws {
        let frame = message.frame(requestID: 42)
        #expect(frame.type == message.type)
        #expect(try DHTMessage(frame: frame) == message)
    }

    @Test(arguments: Samples.messages)
    func everyTruncationIsAnErrorNotACrash(_ message: DHTMessage) {
        let frame = message.frame(requestID: 1)
        for length in 0..<frame.payload.count {
            let cut = Frame(type: frame.type, requestID: 1, payload: Array(frame.payload[..<length]))
            #expect(throws: WireError.self) { try DHTMessage(frame: cut) }
        }
    }

    @Test(arguments: Samples.messages)
    func trailingBytesAreRefused(_ message: DHTMessage) {
        var frame = message.frame(requestID: 1)
        frame.payload.append(0)
        #expect(throws: WireError.trailingBytes) { try DHTMessage(frame: frame) }
    }

    @Test func senderTagOtherThanZeroOrOneIsInvalid() {
        let frame = Frame(type: .ping, requestID: 1, payload: [2])
        #expect(throws: WireError.invalidValue) { try DHTMessage(frame: frame) }
    }

    @Test func hostThatIsNotUTF8IsInvalid() {
        var writer = ByteWriter()
        writer.write(UInt8(1))
        writer.write(raw: Samples.id(1).bytes)
        writer.writeWithU8Length([0xFF, 0xFE])
        writer.write(UInt16(1))
        #expect(throws: WireError.invalidValue) { try DHTMessage(frame: Frame(type: .ping, requestID: 1, payload: writer.bytes)) }
    }

    @Test func emptyHostIsInvalid() {
        var writer = ByteWriter()
        writer.write(UInt16(1))
        writer.write(raw: Samples.id(1).bytes)
        writer.writeWithU8Length([])
        writer.write(UInt16(1))
        writer.write(UInt8(0))
        #expect(throws: WireError.invalidValue) { try DHTMessage(frame: Frame(type: .foundNodes, requestID: 1, payload: writer.bytes)) }
    }

    @Test func tooManyContactsIsOversized() {
        var writer = ByteWriter()
        writer.write(UInt16(WireLimits.maxContactsPerMessage + 1))
        writer.write(raw: [UInt8](repeating: 1, count: 100_000))
        #expect(throws: WireError.oversized) { try DHTMessage(frame: Frame(type: .foundNodes, requestID: 1, payload: writer.bytes)) }
    }

    @Test func hugeRecordCountWithFewBytesIsTruncatedWithoutAllocating() {
        var writer = ByteWriter()
        writer.write(UInt8(0))
        writer.write(UInt16(4000))
        #expect(throws: WireError.truncated) { try DHTMessage(frame: Frame(type: .store, requestID: 1, payload: writer.bytes)) }
    }

    @Test func valueLongerThanTheLimitIsOversized() {
        var record = Samples.record
        record.value = [UInt8](repeating: 1, count: WireLimits.maxValueBytes + 1)
        let frame = DHTMessage.store(.init(sender: nil, records: [record])).frame(requestID: 1)
        #expect(throws: WireError.oversized) { try DHTMessage(frame: frame) }
    }

    /// A peer may send any u64; the last one reads as the last instant, not as a trap.
    @Test func aRecordExpiringAtTheEndOfU64DecodesAsTheLastInstant() throws {
        var farthest = Samples.record
        farthest.expiry = .max
        let decoded = try DHTMessage(frame: DHTMessage.store(.init(sender: nil, records: [farthest])).frame(requestID: 1))
        guard case .store(let request) = decoded else { preconditionFailure("a store decodes as \(decoded)") }
        #expect(request.records.map(\.expiresAt) == [WallClockInstant(millisecondsSinceEpoch: .max)])
    }

    @Test func signingPayloadCoversEveryFieldButTheSignature() {
        var other = Samples.record
        other.signature = Array(repeating: 9, count: 64)
        #expect(other.signingPayload == Samples.record.signingPayload)
        for change in [{ (r: inout SignedRecord) in r.value.append(0) }, { $0.expiry += 1 }, { $0.subkey = [] },
                       { $0.key = Samples.id(99) }, { $0.ownerPublicKey[0] ^= 1 }] {
            var changed = Samples.record
            change(&changed)
            #expect(changed.signingPayload != Samples.record.signingPayload)
        }
    }

    @Test func encodedLengthIsTheRecordsShareOfAPayload() {
        for record in [Samples.record, Samples.emptyRecord] {
            let payload = DHTMessage.store(.init(sender: nil, records: [record])).encodedPayload()
            #expect(payload.count == 1 + 2 + record.encodedLength)
        }
    }

    @Test func messageTypesFallInTheirFamilies() {
        let expected: [MessageType.Family] = [.control, .dht, .averaging, .stateSync]
        for type in MessageType.allCases {
            #expect(type.family == expected[Int(type.rawValue >> 8)])
        }
        #expect(MessageType.family(of: 0x0201) == .averaging)
        #expect(MessageType.family(of: 0x0305) == .stateSync)
        #expect(MessageType.family(of: 0x0000) == .unassigned)
    }
}
