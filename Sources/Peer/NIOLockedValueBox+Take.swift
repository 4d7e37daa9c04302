import NIOConcurrencyHelpers

extension NIOLockedValueBox {
    /// The value a background task left here, taken out: nil is left behind, so it is taken once.
    func take<Wrapped>() -> Wrapped? where Value == Wrapped? {
        withLockedValue { value in
            defer { value = nil }
            return value
        }
    }
}
