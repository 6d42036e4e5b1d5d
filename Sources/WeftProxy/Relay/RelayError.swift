/// Why a relay could not start.
enum RelayError: Error, CustomStringConvertible {
    case clientGone

    var description: String { "the client closed before the relay started" }
}
