/// The version every Weft program reports.
public enum WeftVersion {
    public static let current = "0.1.0"
}
