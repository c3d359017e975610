/// The version the command line reports and the generated files name.
public enum WhittleVersion {
    public static let current = "0.1.0"
}
