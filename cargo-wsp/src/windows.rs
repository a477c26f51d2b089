//! placeholder
pub fn build_command(_: &[String]) -> Result<(), String> {
    Err("todo".into())
}
pub fn test_command(_: &[String]) -> Result<(), String> {
    Err("todo".into())
}
