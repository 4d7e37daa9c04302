/// A few-shot classification task phrased as next-token prediction: after an example's text,
/// the model predicts its class's label word.
public struct PromptTask: Sendable, Equatable {
    public struct Example: Sendable, Equatable {
        public let text: [UInt8]
        public let label: Int
    }

    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    public let name: String
    /// One word per class; zero-shot scoring reads them, prompt tuning starts their rows there.
    public let labelWords: [[UInt8]]
    /// The shots every peer trains on, classes interleaved.
    public let training: [Example]
    /// Held out, classes interleaved so that any prefix is balanced.
    public let test: [Example]

    public static let shakespearePlaysName = "shakespeare-plays"
    public static let names = [shakespearePlaysName]
    static let shakespearePlaysClasses = ["CORIOLANUS", "ROMEO"]
    /// The longest example text of the bundled tasks, in bytes.
    public static let textBytes = 96
    /// The longest label word of the bundled tasks, in bytes.
    public static let labelWordBytes = shakespearePlaysClasses.map(\.utf8.count).max()!

    /// How many classes the bundled task `name` has (0 for an unknown name).
    public static func classCount(of name: String) -> Int {
        name == shakespearePlaysName ? shakespearePlaysClasses.count : 0
    }

    /// The bundled task `name` built from the bundled corpus.
    public static func named(_ name: String, corpus: [UInt8], shotsPerClass: Int, testPerClass: Int = 200,
                             maxTextBytes: Int = textBytes) throws -> PromptTask {
        guard name == shakespearePlaysName else {
            throw Error(description: "unknown prompt-tuning task \"\(name.prefix(64))\"; known: \(names.joined(separator: ", "))")
        }
        return try shakespearePlays(corpus: corpus, shotsPerClass: shotsPerClass, testPerClass: testPerClass,
                                    maxTextBytes: maxTextBytes)
    }

    /// Which of two plays a speech comes from: Coriolanus or Romeo and Juliet, told apart by
    /// the lines between each play's first and last speech by its title character. A speech's
    /// text is its lines without the speaker's name, whole lines up to `maxTextBytes`. Shots
    /// and test speeches are drawn per class with a fixed seed, so every peer holds the same.
    public static func shakespearePlays(corpus: [UInt8], shotsPerClass: Int, testPerClass: Int,
                                        maxTextBytes: Int) throws -> PromptTask {
        let speeches = SpeechParser.speeches(in: corpus)
        let classes = shakespearePlaysClasses
        var perClass: [[[UInt8]]] = []
        for speaker in classes {
            let marked = speeches.indices.filter { speeches[$0].speaker == Array(speaker.utf8) }
            guard let first = marked.first, let last = marked.last else {
                throw Error(description: "the corpus has no speech by \(speaker); the task needs the bundled Tiny Shakespeare")
            }
            perClass.append(speeches[first...last].compactMap { SpeechParser.text(of: $0, maxBytes: maxTextBytes) })
        }
        var generator = SeededGenerator(seed: 0x5_4A4B)
        for index in perClass.indices { shuffle(&perClass[index], with: &generator) }
        let needed = shotsPerClass + testPerClass
        if let short = perClass.firstIndex(where: { $0.count < needed }) {
            throw Error(description: "\(classes[short]) has \(perClass[short].count) speeches; \(shotsPerClass) shots and \(testPerClass) tests need \(needed)")
        }
        func interleaved(_ range: Range<Int>) -> [Example] {
            range.flatMap { index in perClass.indices.map { Example(text: perClass[$0][index], label: $0) } }
        }
        return PromptTask(name: shakespearePlaysName, labelWords: classes.map { Array($0.utf8) },
                          training: interleaved(0..<shotsPerClass),
                          test: interleaved(shotsPerClass..<needed))
    }

    /// Fisher–Yates with our own generator: the standard library does not promise its shuffle's
    /// algorithm, and peers built by other toolchains must draw the same shots.
    static func shuffle<Element>(_ elements: inout [Element], with generator: inout SeededGenerator) {
        for index in stride(from: elements.count - 1, to: 0, by: -1) {
            elements.swapAt(index, Int(generator.next() % UInt64(index + 1)))
        }
    }
}
