import CohortBase

extension DHTMessage {
    /// The message framed under `requestID`.
    public func frame(requestID: UInt64) -> Frame {
        Frame(type: type, requestID: requestID, payload: encodedPayload())
    }

    /// The payload bytes (docs/protocol.md, "Payloads").
    public func encodedPayload() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .ping(let sender):
            writer.writeOptional(sender)
        case .pong:
            break
        case .findNode(let request):
            writer.writeOptional(request.sender)
            writer.write(raw: request.target.bytes)
        case .foundNodes(let contacts):
            writer.writeContacts(contacts)
        case .findValue(let request):
            writer.writeOptional(request.sender)
            writer.write(raw: request.key.bytes)
        case .value(let reply):
            writer.writeRecords(reply.records)
            writer.writeContacts(reply.closer)
        case .store(let request):
            writer.writeOptional(request.sender)
            writer.writeRecords(request.records)
        case .storeAck(let statuses):
            writer.writeWithU16Length(statuses.map(\.rawValue))
        case .error(let reply):
            writer.write(reply.code)
            writer.writeWithU16Length(Array(PeerText.escaped(reply.message, maxBytes: WireLimits.maxErrorMessageBytes).utf8))
        }
        return writer.bytes
    }

    /// Decodes a frame's payload; every length is bounded by `WireLimits` and the payload must
    /// be consumed exactly.
    public init(frame: Frame) throws(WireError) {
        var reader = ByteReader(frame.payload)
        switch frame.type {
        case .ping:
            self = .ping(sender: try reader.readOptionalContact())
        case .pong:
            self = .pong
        case .findNode:
            self = .findNode(FindNode(sender: try reader.readOptionalContact(), target: try reader.readID()))
        case .foundNodes:
            self = .foundNodes(try reader.readContacts())
        case .findValue:
            self = .findValue(FindValue(sender: try reader.readOptionalContact(), key: try reader.readID()))
        case .value:
            self = .value(ValueReply(records: try reader.readRecords(), closer: try reader.readContacts()))
        case .store:
            self = .store(Store(sender: try reader.readOptionalContact(), records: try reader.readRecords()))
        case .storeAck:
            let raw = try reader.readU16LengthPrefixed(maxLength: WireLimits.maxStatusesPerMessage)
            self = .storeAck(raw.map(StoreStatus.init(rawValue:)))
        case .error:
            let code = try reader.readU16()
            let text = try reader.readUTF8(try reader.readU16LengthPrefixed(maxLength: WireLimits.maxErrorMessageBytes))
            guard PeerText.isSafe(text) else { throw WireError.invalidValue.with(detail: "control character in an error reason") }
            self = .error(ErrorReply(code: code, message: text))
        case .averagePart, .averagedPart, .averagePartLocal, .averagedPartLocal, .sameHostProbe, .sameHostChallenge,
             .sameHostProof, .sameHostProofAccepted, .stateRequest, .stateChunk, .stateManifestRequest, .stateManifest,
             .updatesRequest, .updates, .updateChunkRequest, .updateChunk:
            throw WireError.unknownMessageType
        }
        try reader.expectEnd()
    }
}

extension SignedRecord {
    /// Bytes of the record's encoding in a `store` or `value` payload.
    public var encodedLength: Int { MinimumLength.record + subkey.count + value.count }
}

/// Smallest encodings, used to bound counts against the bytes left before allocating.
private enum MinimumLength {
    static let contact = PeerID.byteCount + 1 + 1 + 2
    static let record = DHTID.byteCount + 1 + 4 + 8 + SignedRecord.publicKeyLength + SignedRecord.signatureLength
}

extension ByteWriter {
    fileprivate mutating func writeContact(_ contact: Contact) {
        write(raw: contact.id.bytes)
        writeWithU8Length(Array(contact.endpoint.host.utf8))
        write(contact.endpoint.port)
    }

    fileprivate mutating func writeOptional(_ contact: Contact?) {
        guard let contact else { return write(UInt8(0)) }
        write(UInt8(1))
        writeContact(contact)
    }

    fileprivate mutating func writeContacts(_ contacts: [Contact]) {
        precondition(contacts.count <= WireLimits.maxContactsPerMessage, "\(contacts.count) contacts in one message")
        write(UInt16(contacts.count))
        contacts.forEach { writeContact($0) }
    }

    fileprivate mutating func writeRecords(_ records: [SignedRecord]) {
        precondition(records.count <= WireLimits.maxRecordsPerMessage, "\(records.count) records in one message")
        write(UInt16(records.count))
        for record in records {
            write(raw: record.key.bytes)
            writeWithU8Length(record.subkey)
            writeWithU32Length(record.value)
            write(record.expiry)
            write(raw: record.ownerPublicKey)
            write(raw: record.signature)
        }
    }
}

extension ByteReader {
    fileprivate mutating func readID() throws(WireError) -> DHTID {
        let bytes = try readBytes(count: DHTID.byteCount)
        guard let id = DHTID(bytes: bytes) else { preconditionFailure("32 bytes always make an id") }
        return id
    }

    fileprivate mutating func readPeerID() throws(WireError) -> PeerID {
        let bytes = try readBytes(count: PeerID.byteCount)
        guard let id = PeerID(bytes: bytes) else { preconditionFailure("32 bytes always make a peer id") }
        return id
    }

    fileprivate mutating func readContact() throws(WireError) -> Contact {
        let id = try readPeerID()
        let host = try readUTF8(try readU8LengthPrefixed(maxLength: WireLimits.maxHostBytes))
        guard Endpoint.isValidHost(host) else { throw WireError.invalidValue.with(detail: "not a host name or address") }
        return Contact(id: id, endpoint: Endpoint(host: host, port: try readU16()))
    }

    fileprivate mutating func readOptionalContact() throws(WireError) -> Contact? {
        switch try readU8() {
        case 0: return nil
        case 1: return try readContact()
        case let tag: throw WireError.invalidValue.with(detail: "optional contact tag \(tag)")
        }
    }

    fileprivate mutating func readContacts() throws(WireError) -> [Contact] {
        let count = try readU16Count(maxCount: WireLimits.maxContactsPerMessage, minimumElementLength: MinimumLength.contact)
        var contacts: [Contact] = []
        contacts.reserveCapacity(count)
        for _ in 0..<count { contacts.append(try readContact()) }
        return contacts
    }

    fileprivate mutating func readRecords() throws(WireError) -> [SignedRecord] {
        let count = try readU16Count(maxCount: WireLimits.maxRecordsPerMessage, minimumElementLength: MinimumLength.record)
        var records: [SignedRecord] = []
        records.reserveCapacity(count)
        for _ in 0..<count {
            records.append(SignedRecord(
                key: try readID(),
                subkey: try readU8LengthPrefixed(maxLength: WireLimits.maxSubkeyBytes),
                value: try readU32LengthPrefixed(maxLength: WireLimits.maxValueBytes),
                expiry: try readU64(),
                ownerPublicKey: try readBytes(count: SignedRecord.publicKeyLength),
                signature: try readBytes(count: SignedRecord.signatureLength)))
        }
        return records
    }
}
