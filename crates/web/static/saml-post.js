// SAML: sends the pending form (a signed response to the service provider) as
// soon as the page loads. Without JavaScript the visible button does the same.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("saml-post");
  if (form) { form.submit(); }
});
