extension Duration {
    /// Seconds as a Double, for rates and messages.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }

    /// "15 s", "2.5 s", "250 ms": how a person reads a timeout.
    var humanReadable: String {
        let seconds = self.seconds
        if seconds < 1 {
            return "\(Int((seconds * 1000).rounded())) ms"
        }
        if seconds == seconds.rounded() {
            return "\(Int(seconds)) s"
        }
        return "\((seconds * 10).rounded() / 10) s"
    }
}
