/* The card step of a top-up: Stripe.js collects the card and confirms the PaymentIntent the
   server created. Nothing here credits anything: the server does that when Stripe's signed
   webhook says the payment succeeded. No build step, no other library. */
(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  if (!form) return;
  var button = document.getElementById("pay-button");
  var status = document.getElementById("pay-status");
  var failure = document.getElementById("pay-error");

  function fail(message) {
    status.textContent = "";
    failure.textContent = message;
    failure.hidden = false;
    button.disabled = false;
  }

  if (typeof Stripe === "undefined") {
    fail("Stripe.js did not load, so the card cannot be paid. Reload the page to try again.");
    button.disabled = true;
    return;
  }
  var stripe = Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  button.disabled = false;

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    failure.hidden = true;
    status.textContent = "Paying…";
    stripe
      .confirmCardPayment(form.dataset.clientSecret, { payment_method: { card: card } })
      .then(function (result) {
        var intent = result.paymentIntent;
        if (result.error) {  // a refused card or authentication: the intent can be paid again
          fail((result.error.message || "The payment did not go through.") +
               " Nothing was charged; check the card and try again.");
        } else if (intent.status === "succeeded" || intent.status === "processing") {
          status.textContent = "Payment received. Taking you back to Funding…";
          window.location.assign(form.dataset.doneUrl);
        } else {
          fail("The payment is " + intent.status + "; try again.");
        }
      })
      .catch(function (error) {
        fail("The payment could not be sent to Stripe (" + error + "). Try again.");
      });
  });
})();
